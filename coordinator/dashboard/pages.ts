// The dashboard's pages, rendered on the server from a DashboardSource:
//
//   /                    the campaigns, and every finding grouped by bug
//   /campaigns/<id>      one campaign: its counters, charts over time, findings
//   /findings/<key>      one finding: what it is, its trace, its downloads
//   /workers             the workers and what they run
//
// A finding row says what users of syzkaller's and ClusterFuzz's pages look
// for: its class and what that means, hits, first and last seen, the size of
// its reproducer, the switches it needs, how it was cross-checked, and a real
// kernel's verdict when the record has one.

import { type TwinOrigin, simSearchText, twinOriginText } from '../../worker/report/twin-origin.js';
import { crossCheckLabel, isSameWorkerCheck } from '../../worker/fuzz/findings/policy.js';
import { ExportError } from '../../worker/repro/errors.js';
import { classOf, describeSwitch, switchesVerdict } from '../../worker/repro/explain.js';
import { EXPORT_FORMATS, exportRepro } from '../../worker/repro/export.js';
import type { Repro } from '../../worker/repro/repro.js';
import { textTrace } from '../../worker/repro/text.js';
import { plural } from '../../worker/repro/words.js';
import { groupByBug } from '../../worker/report/signature.js';
import { type Cell, type Html, badge, chart, count, duration, esc, facts, link, page, raw, table } from './html.js';
import type { KernelConfigFigures } from '../api.js';
import { type CampaignView, type DashboardSource, type HistorySample, findFinding } from './model.js';
import { type StoredFinding, fromRepro, storedSwitchesNeeded } from './stored.js';

/** Where a page is asked for: its path with the query, and whether updates are paused there. */
export interface PageContext {
  path: string;
  paused: boolean;
}

const REFRESH_SEC = 10;

function shell(src: DashboardSource, ctx: PageContext, title: string, body: string, opts: { live?: boolean; charts?: boolean } = {}): string {
  return page({ title, source: src.title, path: ctx.path, paused: ctx.paused, ...(opts.live ? { refreshSec: REFRESH_SEC } : {}), ...(opts.charts ? { charts: true } : {}) }, body);
}

// ---------------------------------------------------------------------------
// Cells

function classBadge(signature: string): Html {
  const c = classOf(signature);
  return c ? badge(c.kind, c.kind, c.meaning) : badge('?', 'unknown');
}

function reproCell(f: StoredFinding): string {
  const r = f.record;
  if (r.minimized) return `${r.opsBefore} → ${plural(r.opsAfter, 'op')}`;
  if (r.minimizeJob) return `${plural(r.opsAfter, 'op')}, minimizing`;
  return `${plural(r.opsAfter, 'op')}${r.minimizeError ? ' (minimization failed)' : ''}`;
}

/** A kernel campaign's finding: where it was found, and what the sim shows of it. */
function twinRows(o: TwinOrigin): [string, Cell][] {
  return [['found', twinOriginText(o)], ['in the sim', simSearchText(o) ?? 'not searched yet']];
}

function switchesCell(f: StoredFinding): Cell {
  const o = f.record.twin;
  if (o) return o.sim === undefined ? '—' : o.sim === null ? badge('sim lacks it', 'BUG', simSearchText(o) ?? '') : o.sim.switches.join(', ') || 'none';
  const needs = storedSwitchesNeeded(f);
  if (needs === null) return '—';
  if (!needs.reproduces) return raw(`<span class="muted" title="${esc(`it shows ${needs.observed ?? 'nothing'} now`)}">no longer fires</span>`);
  if (needs.needed.length === 0) return badge('none: not a seeded bug', 'BUG', switchesVerdict([]));
  return raw(needs.needed.map((n) => `<span title="${esc(describeSwitch(n))}">${esc(n)}</span>`).join(', '));
}

function crossCheckCell(f: StoredFinding): Cell {
  const r = f.record;
  const short = !r.verified ? 'pending' : r.verifiedBy === undefined ? 'not needed' : isSameWorkerCheck(r.finderWorkerId) ? 'same worker, later' : 'another worker';
  return raw(`<span title="${esc(crossCheckLabel(r))}">${esc(short)}</span>`);
}

function kernelCell(f: StoredFinding): Cell {
  return f.record.kernel ? badge(f.record.kernel.verdict, f.record.kernel.verdict, f.record.kernel.text) : '—';
}

function seen(sec: number, exec?: number): string {
  return `${duration(sec)}${exec !== undefined ? `, exec ${count(exec)}` : ''}`;
}

// ---------------------------------------------------------------------------
// Findings tables

interface Row {
  f: StoredFinding;
  campaign: CampaignView;
}

/**
 * The reported findings, one row per bug (findings whose signatures name one
 * bug, in any campaign: report/signature.ts bugKey), shown by its first
 * finding with the hits of all; a Kernel column only when some record has a
 * verdict.
 */
function findingsTable(rows: Row[], withCampaign: boolean): string {
  if (rows.length === 0) return '<p class="muted">No findings yet.</p>';
  const kernel = rows.some((r) => r.f.record.kernel !== undefined);
  const head = ['Class', 'Signature', 'Hits', 'First seen', 'Last seen', 'Reproducer', 'Switches needed', 'Cross-check',
    ...(kernel ? ['Real kernel'] : []), ...(withCampaign ? ['Campaigns'] : [])];
  const body = groupByBug(rows, (r) => r.f.record.signature).map(({ key, items }): Cell[] => {
    const { f } = items[0]!;
    const others = items.map((r) => r.f.record.signature).filter((s) => s !== key);
    const title = others.length ? ` title="${esc(`also stored as: ${others.join('; ')}`)}"` : '';
    const campaigns = [...new Map(items.map((r) => [r.campaign.id, r.campaign])).values()];
    return [
      classBadge(key), raw(`<a class="sig" href="/findings/${esc(f.key)}"${title}>${esc(key)}</a>`),
      count(items.reduce((s, r) => s + r.f.record.count, 0)), seen(f.record.firstSec, f.record.firstExec),
      seen(Math.max(...items.map((r) => r.f.record.lastSec))), reproCell(f), switchesCell(f), crossCheckCell(f),
      ...(kernel ? [kernelCell(f)] : []),
      ...(withCampaign ? [raw(campaigns.map((c) => link(`/campaigns/${c.id}`, c.name).html).join(', '))] : []),
    ];
  });
  return table(head, body, { id: 'findings', numeric: [2] }) + legend(rows.map((r) => r.f));
}

/** What each class present means. */
function legend(findings: StoredFinding[]): string {
  const seenKinds = new Map<string, string>();
  for (const f of findings) {
    const c = classOf(f.record.signature);
    if (c) seenKinds.set(c.kind, c.meaning);
  }
  return `<dl class="facts legend" id="classes">${[...seenKinds].map(([k, m]) => `<dt>${esc(k)}</dt><dd>${esc(m)}</dd>`).join('')}</dl>`;
}

function pendingTable(rows: Row[]): string {
  if (rows.length === 0) return '';
  const body = rows.map(({ f }): Cell[] => [classBadge(f.record.signature), raw(`<span class="sig">${esc(f.record.signature)}</span>`),
    count(f.record.count), seen(f.record.firstSec), crossCheckLabel(f.record), count(f.record.verifyAttempts)]);
  return `<h2>Waiting for a cross-check</h2>
<p class="muted">A cluster reports a new signature once a worker other than its finder replayed it. With one worker the
finder itself replays it on a fresh executor after a delay, and the finding says so.</p>
${table(['Class', 'Signature', 'Hits', 'First seen', 'State', 'Attempts'], body, { id: 'pending', numeric: [2, 5] })}`;
}

function rowsOf(src: DashboardSource, campaigns: CampaignView[]): { reported: Row[]; pending: Row[]; bad: string[] } {
  const reported: Row[] = [];
  const pending: Row[] = [];
  const bad: string[] = [];
  for (const campaign of campaigns) {
    const run = src.run(campaign.id);
    for (const f of run?.findings ?? []) (f.record.verified ? reported : pending).push({ f, campaign });
    bad.push(...(run?.bad ?? []));
  }
  return { reported, pending, bad };
}

function unreadable(bad: string[]): string {
  return bad.length ? `<h2>Unreadable</h2><ul>${bad.map((b) => `<li><code>${esc(b)}</code></li>`).join('')}</ul>` : '';
}

// ---------------------------------------------------------------------------
// Campaigns

function elapsed(c: CampaignView): string {
  return `${duration(c.elapsedSec)}${c.durationLimitSec !== undefined ? ` of ${duration(c.durationLimitSec)}` : ''}`;
}

function campaignsTable(campaigns: CampaignView[]): string {
  const body = campaigns.map((c): Cell[] => [link(`/campaigns/${c.id}`, c.name), badge(c.state, c.state), c.bugs.join(', ') || '(none)',
    count(c.execs), c.execsPerSec.toFixed(0), elapsed(c), count(c.corpus), c.coverage === undefined ? '—' : count(c.coverage), count(c.findings), c.workers ?? '—']);
  return table(['Campaign', 'State', 'Switches', 'Executions', 'Execs/s', 'Elapsed', 'Corpus', 'Coverage', 'Findings', 'Workers'], body,
    { id: 'campaigns', numeric: [3, 4, 6, 7, 8, 9] });
}

function stat(k: string, v: string): string {
  return `<div class="stat"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`;
}

/** Executions per second between consecutive samples. */
function rates(h: readonly HistorySample[]): number[] {
  return h.map((s, i) => (i === 0 ? 0 : Math.max(0, (s.execs - h[i - 1]!.execs) / Math.max(1e-9, s.sec - h[i - 1]!.sec))));
}

function charts(c: CampaignView): string {
  const h = c.history;
  if (h.length < 2) return '<p class="muted" id="no-history">No history of this campaign\'s counters was recorded, so there are no charts.</p>';
  const x = h.map((s) => s.sec);
  return `<div class="charts">
${chart('chart-coverage', 'Coverage and corpus', ['coverage points', 'corpus programs'], [x, h.map((s) => s.coverage), h.map((s) => s.corpus)])}
${chart('chart-execs', 'Executions', ['executions', 'executions/s'], [x, h.map((s) => s.execs), rates(h)])}
${chart('chart-findings', 'Findings', ['distinct signatures'], [x, h.map((s) => s.findings)])}
</div>`;
}

export function overviewPage(src: DashboardSource, ctx: PageContext): string {
  const campaigns = src.campaigns();
  const { reported, pending, bad } = rowsOf(src, campaigns);
  const body = campaigns.length === 0
    ? '<h1>Campaigns</h1><p>No campaigns yet. Create one with <code>foliofuzz ctl --server HOST:PORT campaigns create --bugs seed</code>.</p>'
    : `<h1>Campaigns</h1>${campaignsTable(campaigns)}
<h2>Findings</h2>${findingsTable(reported, campaigns.length > 1)}${pendingTable(pending)}${unreadable(bad)}`;
  return shell(src, ctx, 'Campaigns', body, { live: campaigns.some((c) => c.live) });
}

export function campaignPage(src: DashboardSource, ctx: PageContext, id: string): string | null {
  const c = src.campaigns().find((x) => x.id === id);
  if (!c) return null;
  const { reported, pending, bad } = rowsOf(src, [c]);
  const body = `<h1>${esc(c.name)} ${badge(c.state, c.state).html}</h1>
<div class="stats">${stat('executions', count(c.execs))}${stat('executions/s', c.execsPerSec.toFixed(0))}${stat('elapsed', elapsed(c))}
${stat('corpus programs', count(c.corpus))}${stat('coverage points', c.coverage === undefined ? '—' : count(c.coverage))}${stat('findings', count(c.findings))}
${c.workers !== undefined ? stat(c.kind === 'embedded' ? 'worker threads' : 'workers', String(c.workers)) : ''}</div>
${facts([['campaign', c.id], ['switches', c.bugs.join(', ') || '(none)'], ...(c.seed !== undefined ? [['seed', String(c.seed)] as [string, Cell]] : []),
    ...(c.startedAt ? [['started', c.startedAt] as [string, Cell]] : []),
    ...(c.kernelConfirm ? [['real kernel', raw(`<span id="kernel-confirm">${esc(c.kernelConfirm)}</span>`)] as [string, Cell]] : []),
    ...(c.kernel ? [['kernel twin', raw(`<span id="kernel-campaign">${esc(c.kernel.status)}</span>`)] as [string, Cell]] : [])])}
${c.kernel ? kernelConfigsTable(c.kernel.configs) : ''}
${charts(c)}
<h2>Findings</h2>${findingsTable(reported, false)}${pendingTable(pending)}${unreadable(bad)}`;
  return shell(src, ctx, c.name, body, { live: c.live, charts: true });
}

/** A kernel campaign's figures per config: programs per second are of kernel time. */
function kernelConfigsTable(configs: readonly KernelConfigFigures[]): string {
  return `<h2>Per filesystem config</h2>${table(['Config', 'Programs', 'Programs/s (kernel)', 'Divergences', 'Per million programs', 'Kernel violations', 'Explained'],
    configs.map((k) => [k.config, count(k.programs), k.programsPerSec.toFixed(1), count(k.divergences), k.divergencesPerMillion.toFixed(0),
      count(k.kernelViolations), count(k.explained)]), { id: 'kernel-configs', numeric: [1, 2, 3, 4, 5, 6] })}`;
}

// ---------------------------------------------------------------------------
// One finding

/** Each export format, and why not where the reproducer does not fit it. */
function exportable(r: Repro): { format: string; why?: string }[] {
  return EXPORT_FORMATS.map((format) => {
    try {
      exportRepro(r, format);
      return { format };
    } catch (err) {
      if (!(err instanceof ExportError)) throw err;
      return { format, why: err.message };
    }
  });
}

function downloads(key: string, f: StoredFinding): string {
  if (!f.record.verified) return '<p class="muted">Downloads come once the finding is cross-checked.</p>';
  const formats = fromRepro(f, 'exports', exportable);
  if (formats === null) return '<p class="muted">No reproducer stored (or it does not read).</p>';
  const items = formats.map(({ format, why }) => (why === undefined
    ? `<a href="/findings/${esc(key)}/repro?format=${format}" download>${esc(format)}</a>`
    : `<span class="na" title="${esc(why)}">${esc(format)}</span>`));
  return `<p class="downloads" id="downloads">${items.join(' ')}</p>
<p class="muted">json: the native reproducer (foliofuzz replay) · text: the interleaving · xfs_io and fsx: scripts for those tools ·
c: a program for a real kernel · report: a bug report for a mailing list. A struck-out format cannot express this program (hover for why).</p>`;
}

function traceBlock(f: StoredFinding): string {
  const trace = fromRepro(f, 'trace', textTrace);
  return trace === null ? '<p class="muted">No trace: no reproducer stored (or it does not read).</p>' : `<pre id="trace">${esc(trace)}</pre>`;
}

function extraFacts(f: StoredFinding): [string, Cell][] {
  return Object.entries(f.extra).map(([k, v]) => [k, raw(`<code>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</code>`)]);
}

/** The real kernel's log of the first run that showed the finding (a WARNING and its call trace), when a verdict kept one. */
function kernelLogBlock(f: StoredFinding): string {
  const v = f.record.kernel;
  if (v?.verdict !== 'reproduces' || v.log.length === 0) return '';
  return `\n<h2>Kernel log (Linux ${esc(v.release ?? '?')}, the first run that showed it)</h2><pre id="kernel-log">${esc(v.log.join('\n'))}</pre>`;
}

export function findingPage(src: DashboardSource, ctx: PageContext, key: string): string | null {
  const found = findFinding(src, key);
  if (!found) return null;
  const { campaign, finding: f } = found;
  const r = f.record;
  const c = classOf(r.signature);
  const needs = r.twin ? null : storedSwitchesNeeded(f);
  const rows: [string, Cell][] = [
    ['class', c ? raw(`${classBadge(r.signature).html} ${esc(c.meaning)}`) : '?'],
    ['message', r.message],
    ['campaign', link(`/campaigns/${campaign.id}`, campaign.name)],
    ['hits', count(r.count)],
    ['first seen', seen(r.firstSec, r.firstExec)],
    ['last seen', seen(r.lastSec, r.lastExec)],
    ['cross-check', crossCheckLabel(r)],
    ['reproducer', `${reproCell(f)}${r.minimizeError ? ` (${r.minimizeError})` : ''}`],
    ...(r.twin ? twinRows(r.twin) : [['switches needed', needs === null ? '—' : needs.reproduces ? switchesVerdict(needs.needed) : `no longer fires (it shows ${needs.observed ?? 'nothing'})`] as [string, Cell]]),
    ...(f.record.kernel ? [['real kernel', raw(`${badge(f.record.kernel.verdict, f.record.kernel.verdict).html} ${esc(f.record.kernel.text)}`)] as [string, Cell]] : []),
    ...extraFacts(f),
  ];
  const path = f.reproPath ?? 'REPRO';
  const body = `<h1><span class="sig">${esc(r.signature)}</span></h1>
${facts(rows)}${kernelLogBlock(f)}
<h2>Downloads</h2>${downloads(key, f)}
<h2>Next steps</h2>
<pre id="next">foliofuzz replay ${esc(path)}
foliofuzz kernel confirm ${esc(path)}    # does this machine's kernel have it? (as root)
foliofuzz export ${esc(path)} --format report
foliofuzz export ${esc(path)} --format c -o repro.c    # for a real kernel</pre>
<h2>Trace</h2>${traceBlock(f)}`;
  return shell(src, ctx, r.signature, body);
}

// ---------------------------------------------------------------------------
// Workers

export function workersPage(src: DashboardSource, ctx: PageContext): string {
  const workers = src.workers();
  let body: string;
  if (workers === null) body = '<h1>Workers</h1><p>This dashboard shows a store on disk: nothing is running.</p>';
  else if (workers.length === 0) body = '<h1>Workers</h1><p>No worker is connected. Start one: <code>foliofuzz worker --nats nats://HOST:4222</code>.</p>';
  else {
    const rows = workers.map((w): Cell[] => [w.id, w.where, badge(w.state, w.state), w.procs ?? '—', count(w.execs),
      w.running.join(', ') || '—', w.campaigns.join(', ') || '—', w.uptimeSec !== undefined ? duration(w.uptimeSec) : '—']);
    body = `<h1>Workers</h1>${table(['Worker', 'Where', 'State', 'Threads', 'Executions', 'Running', 'Campaigns', 'Up for'], rows,
      { id: 'workers', numeric: [3, 4] })}`;
  }
  return shell(src, ctx, 'Workers', body, { live: workers !== null });
}

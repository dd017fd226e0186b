// `foliofuzz findings [--store DIR] [--json]`: what a store found, run by
// run, and what to do next. `fuzz` ends with the same listing of its own run.
//
// Each finding says what its class means, whether it is one of the seeded
// bugs (which switches its reproducer needs, found by running it), how far it
// was minimized, how it was cross-checked, and where its reproducer is; the
// listing ends with the commands that take a reproducer further.
//
// Findings are listed by bug: findings whose signatures name one bug (equal
// signatures; a signature of the format before foliofuzz-sim/9 read as the one
// it became, report/signature.ts bugKey) are one entry, and a bug found in
// several runs of the store is said once more at the end.

import { type StoredFinding, type StoredRun, finiteNumber, readStore, storedSwitchesNeeded } from '../../coordinator/dashboard/stored.js';
import { crossCheckLabel } from '../fuzz/findings/policy.js';
import { ProgramInputError } from '../prog/errors.js';
import { CLASS_MEANINGS, classOf, switchesVerdict } from '../repro/explain.js';
import { plural } from '../repro/words.js';
import { simSearchText, twinOriginText } from '../report/twin-origin.js';
import { type InvariantKind, bugKey, groupByBug, parseSignature } from '../report/signature.js';

export const DEFAULT_STORE = 'foliofuzz-store';

const num = finiteNumber;

/** A run's heading: where, what it ran, how far it got. */
export function runHeading(run: StoredRun): string {
  const c = run.campaign ?? {};
  const bugs = Array.isArray(c['bugs']) ? (c['bugs'] as unknown[]).join(',') : '';
  const execs = num(c['execs']);
  const secs = num(c['durationSec']) ?? num(c['elapsedSec']);
  const bits = [
    run.kind === 'cluster' ? `cluster campaign ${typeof c['name'] === 'string' ? c['name'] : run.id}` : c['kind'] === 'kernel' ? 'kernel campaign' : 'embedded campaign',
    ...(num(c['seed']) !== undefined ? [`seed ${num(c['seed'])}`] : []),
    Array.isArray(c['configs']) ? `configs: ${(c['configs'] as unknown[]).join(',')}` : `switches: ${bugs || '(none)'}`,
    ...(execs !== undefined ? [`${plural(execs, 'execution')}${secs !== undefined ? ` in ${Math.round(secs)} s` : ''}`] : []),
    ...(typeof c['state'] === 'string' ? [c['state']] : []),
  ];
  return `${run.dir} (${bits.join('; ')})`;
}

/** What a signature written in the format before foliofuzz-sim/9 says and does not. */
function oldFormatLine(signature: string): string | null {
  const p = parseSignature(signature);
  if (p?.version !== 1) return null;
  return p.kind === 'DATA'
    ? '     (signature format 1: named by the read that saw it, not by its cause; `foliofuzz replay REPRO` names the cause)'
    : '     (signature format 1: the callers are part of it; this build keys it by its function)';
}

/** A bug (one finding, or several of an older signature format that name it) as the lines of the listing. */
function bugLines(bug: { key: string; items: StoredFinding[] }, n: number): string[] {
  const [f, ...more] = bug.items as [StoredFinding, ...StoredFinding[]];
  const r = f.record;
  const hits = bug.items.reduce((s, x) => s + x.record.count, 0);
  // A kernel campaign's finding is the kernel's: what the sim shows of it was searched when it was found.
  const needs = r.twin ? null : storedSwitchesNeeded(f);
  const lines = [
    `  ${n}. ${bug.key}`,
    ...(more.length > 0 ? [`     one bug under ${plural(bug.items.length, 'signature')}: ${bug.items.map((x) => x.record.signature).join('; ')}`]
      : bug.key !== r.signature ? [`     stored as ${r.signature}`] : []),
    ...[oldFormatLine(r.signature)].filter((l): l is string => l !== null),
    `     ${plural(hits, 'hit')}, first after ${r.firstSec.toFixed(1)} s (execution ${r.firstExec}), last after ${Math.max(...bug.items.map((x) => x.record.lastSec)).toFixed(1)} s`,
    `     ${r.minimized ? `minimized: ${r.opsBefore} -> ${plural(r.opsAfter, 'op')}` : r.minimizeError ? `not minimized (${r.minimizeError})` : r.minimizeJob ? 'minimizing' : `${plural(r.opsAfter, 'op')}, not minimized`}; ${crossCheckLabel(r)}`,
  ];
  if (r.twin) lines.push(`     ${twinOriginText(r.twin)}`, ...[simSearchText(r.twin)].filter((l) => l !== null).map((l) => `     ${l}`));
  else if (needs) lines.push(`     ${needs.reproduces ? switchesVerdict(needs.needed) : `the reproducer no longer fires here (it shows ${needs.observed ?? 'nothing'})`}`);
  if (f.record.kernel) lines.push(`     real kernel: ${f.record.kernel.verdict}: ${f.record.kernel.text}`);
  lines.push(`     ${f.reproPath ?? '(no reproducer stored yet)'}`);
  return lines;
}

/** The classes present, each with its meaning. */
function classLines(findings: StoredFinding[]): string[] {
  const kinds = new Set<InvariantKind>();
  for (const f of findings) {
    const c = classOf(f.record.signature);
    if (c) kinds.add(c.kind);
  }
  if (kinds.size === 0) return [];
  return ['What the classes mean:', ...[...kinds].map((k) => `  ${k.padEnd(9)} ${CLASS_MEANINGS[k]}`)];
}

/** The commands that take a finding further, each with what it gives. */
export function nextStepLines(store: string, repro: string): string[] {
  const steps: [string, string][] = [
    [`foliofuzz replay ${repro}`, 'run it again in the sim (exit 1: it fired)'],
    [`foliofuzz kernel confirm ${repro}`, 'does this machine\'s kernel have it? (root: a loop filesystem made to the program\'s config)'],
    [`foliofuzz export ${repro} --format report`, 'a bug report: kernel (with the real kernel\'s verdict and log once confirmed), mkfs, program, interleaving, bytes'],
    [`foliofuzz export ${repro} --format c`, 'a C program to run on a real kernel'],
    [`foliofuzz export ${repro} --format text`, 'the interleaving, op by op'],
    [`foliofuzz dashboard --store ${store}`, 'all of it in a browser'],
  ];
  const width = Math.max(...steps.map(([c]) => c.length));
  return ['', 'Next steps (REPRO: a reproducer path from above):', ...steps.map(([c, what]) => `  ${c.padEnd(width)}   ${what}`)];
}

/** Which findings the switches explain, and which they do not. */
function seededLines(findings: StoredFinding[]): string[] {
  let seeded = 0;
  let unexplained = 0;
  for (const f of findings) {
    const needs = storedSwitchesNeeded(f);
    if (needs?.reproduces && needs.needed.length > 0) seeded++;
    else if (needs?.reproduces) unexplained++;
  }
  const lines: string[] = [];
  if (seeded > 0) {
    const which = seeded === findings.length ? (seeded === 1 ? 'The finding comes' : `All ${seeded} findings come`) : `${seeded} of the ${findings.length} findings come`;
    lines.push(`${which} from bugs the switches put back on purpose: the seeded bugs (each "needs" line names its switch).`);
  }
  if (unexplained > 0) {
    lines.push(`${plural(unexplained, 'finding')} ${unexplained === 1 ? 'fires' : 'fire'} with every switch off: no seeded bug. Each is a kernel bug or a false positive of the sim;`,
      'confirm it on a real kernel (foliofuzz kernel confirm REPRO) before reporting it.');
  }
  const real = findings.filter((f) => f.record.kernel?.verdict === 'reproduces').length;
  if (real > 0) {
    lines.push(`${plural(real, 'finding')} ${real === 1 ? 'reproduces' : 'reproduce'} on this machine's real kernel ("real kernel: reproduces"): ` +
      'a bug of that kernel, whatever switch the sim needed to show it; the bug report export is the next step.');
  }
  return lines.length ? ['', ...lines] : [];
}

/** The bugs found by more than one run, each once: one bug, whichever run met it. */
function acrossRunLines(runs: StoredRun[]): string[] {
  const seen = runs.flatMap((run) => run.findings.filter((f) => f.record.verified).map((f) => ({ f, run: run.id })));
  const shared = groupByBug(seen, (x) => x.f.record.signature).filter((b) => new Set(b.items.map((x) => x.run)).size > 1);
  if (shared.length === 0) return [];
  return ['One bug, several runs (equal signatures are one bug):', ...shared.map((b) =>
    `  ${b.key}: runs ${[...new Set(b.items.map((x) => x.run))].join(', ')}; ${plural(b.items.reduce((s, x) => s + x.f.record.count, 0), 'hit')}`), ''];
}

/** The listing of some runs, as lines. */
export function listingLines(runs: StoredRun[], store: string): string[] {
  const lines: string[] = [];
  const all: StoredFinding[] = [];
  for (const run of runs) {
    const shown = run.findings.filter((f) => f.record.verified);
    const pending = run.findings.length - shown.length;
    lines.push(`Findings of ${runHeading(run)}:`);
    if (shown.length === 0) lines.push('  none');
    groupByBug(shown, (f) => f.record.signature).forEach((bug, i) => lines.push(...bugLines(bug, i + 1)));
    if (pending > 0) lines.push(`  (${plural(pending, 'more signature')} waiting for a cross-check on another worker)`);
    for (const b of run.bad) lines.push(`  unreadable: ${b}`);
    lines.push('');
    all.push(...shown);
  }
  lines.push(...acrossRunLines(runs), ...classLines(all), ...seededLines(all));
  if (all.length > 0) lines.push(...nextStepLines(store, 'REPRO'));
  return lines;
}

/**
 * The --json document: every run and every finding (reported or not), with
 * what the listing says of each, and the bugs they are (each with the
 * findings and runs that met it).
 */
export function listingJson(runs: StoredRun[]): object {
  const all = runs.flatMap((run) => run.findings.map((f) => ({ f, run: run.id })));
  return {
    bugs: groupByBug(all, (x) => x.f.record.signature).map((b) => ({
      bug: b.key, signatures: [...new Set(b.items.map((x) => x.f.record.signature))], runs: [...new Set(b.items.map((x) => x.run))],
      findings: b.items.map((x) => x.f.key), hits: b.items.reduce((s, x) => s + x.f.record.count, 0),
    })),
    runs: runs.map((run) => ({
      id: run.id, kind: run.kind, dir: run.dir, campaign: run.campaign, unreadable: run.bad,
      findings: run.findings.map((f) => {
        const needs = storedSwitchesNeeded(f);
        return {
          ...f.record, key: f.key, bug: bugKey(f.record.signature), signatureVersion: parseSignature(f.record.signature)?.version ?? null,
          meaning: classOf(f.record.signature)?.meaning ?? null, crossCheck: crossCheckLabel(f.record),
          repro: f.reproPath, reproduces: needs?.reproduces ?? null, switchesNeeded: needs?.reproduces ? needs.needed : null,
          ...(Object.keys(f.extra).length ? { extra: f.extra } : {}),
        };
      }),
    })),
  };
}

export function findingsCommand(opts: { store?: string; json?: boolean }): number {
  const store = opts.store ?? DEFAULT_STORE;
  let runs: StoredRun[];
  try {
    runs = readStore(store);
    if (runs.length === 0) throw new ProgramInputError(`${store}: no campaign store here (run foliofuzz fuzz, or give --store DIR)`);
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(listingJson(runs))}\n`);
  else process.stdout.write(`${listingLines(runs, store).join('\n')}\n`);
  return 0;
}

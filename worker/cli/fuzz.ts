// `foliofuzz fuzz`: an embedded campaign (coordinator and N worker threads in
// one process). Progress on stderr: a live line on a terminal, a log line
// every PROGRESS_LOG_SEC otherwise; each finding is announced as it comes,
// with where its reproducer is; at the end, the findings of the run with what
// they mean and what to do next (findings.ts). With --json, one JSON document
// on stdout at the end instead. With --http, the dashboard while it runs.
//
// Stores: without --store each run gets a directory of its own
// (foliofuzz-store/run-<n>), so runs never mix; an explicit --store that
// holds an earlier run is refused unless --append says to add to it.

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readRun } from '../../coordinator/dashboard/stored.js';
import { ProgramInputError } from '../prog/errors.js';
import { SCHEDULE_STRATEGIES, type ScheduleStrategy } from '../prog/types.js';
import { plural } from '../repro/words.js';
import { type CampaignEvent, type CampaignHandle, type CampaignOptions, type CampaignStats, type CampaignSummary, startCampaign } from '../fuzz/campaign.js';
import { parseBugList } from './bugs.js';
import { checkHttpAddress } from './dashboard.js';
import { DEFAULT_STORE, listingLines } from './findings.js';

export interface FuzzArgs {
  bugs?: string;
  workers?: string;
  duration?: string;
  seed?: string;
  store?: string;
  append?: boolean;
  untilFound?: string;
  maxExecs?: string;
  json?: boolean;
  feedback?: boolean;
  scenes?: boolean;
  aliasCoverage?: boolean;
  schedule?: string;
  minimize?: boolean;
  /** true: the default runs; a string: how many. */
  kernelConfirm?: string | boolean;
  http?: string;
  token?: string;
  /** With --kernel (fuzz-kernel.ts) only. */
  configs?: string;
}

/** Off a terminal, a progress line this often. */
const PROGRESS_LOG_SEC = 30;

/** A non-negative number flag (an integer unless `fraction`). */
export function count(flag: string, v: string | undefined, min: number, fraction = false): number | undefined {
  if (v === undefined) return undefined;
  const shape = fraction ? /^\d+(\.\d+)?$/ : /^\d+$/;
  if (!shape.test(v) || Number(v) < min) {
    throw new ProgramInputError(`${flag}: '${v}' is not ${fraction ? 'a number' : 'an integer'} >= ${min}`);
  }
  return Number(v);
}

/** "execs 1200  130/s  corpus 40  coverage 900  findings 2  12 of 300 s". */
export function progressLine(s: CampaignStats, limitSec?: number): string {
  return `execs ${s.execs}  ${s.execsPerSec.toFixed(0)}/s  corpus ${s.corpus}  coverage ${s.coverage}  findings ${s.findings}` +
    (s.harnessErrors ? `  harness errors ${s.harnessErrors}` : '') +
    `  ${s.durationSec.toFixed(0)}${limitSec !== undefined ? ` of ${limitSec}` : ''} s`;
}

/** A directory holds an earlier run: its counters, or anything in findings/ or corpus/. */
function holdsRun(dir: string): boolean {
  const nonEmpty = (d: string): boolean => existsSync(d) && readdirSync(d).length > 0;
  return existsSync(join(dir, 'campaign.json')) || nonEmpty(join(dir, 'findings')) || nonEmpty(join(dir, 'corpus'));
}

/** The store this run writes: a new run-<n> under the default store, or --store (refused when it holds a run, unless --append). */
export function chooseStore(store: string | undefined, append: boolean): string {
  if (store === undefined) {
    mkdirSync(DEFAULT_STORE, { recursive: true });
    const taken = readdirSync(DEFAULT_STORE).map((n) => /^run-(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]));
    return join(DEFAULT_STORE, `run-${Math.max(0, ...taken) + 1}`);
  }
  if (!append && holdsRun(store)) {
    throw new ProgramInputError(`--store: ${store} holds an earlier run, and this run's findings would mix with its findings. ` +
      'Give another directory, add --append to add to it anyway, or leave out --store (each run then gets foliofuzz-store/run-<n>). ' +
      `See what it holds: foliofuzz findings --store ${store}`);
  }
  return store;
}

function campaignOptions(args: FuzzArgs): Omit<CampaignOptions, 'storeDir'> {
  if (args.configs !== undefined) throw new ProgramInputError('--configs: only a kernel campaign (--kernel) takes configs');
  let schedule: ScheduleStrategy | undefined;
  if (args.schedule !== undefined) {
    if (!(SCHEDULE_STRATEGIES as readonly string[]).includes(args.schedule) || args.schedule === 'replay') {
      throw new ProgramInputError(`--schedule: '${args.schedule}' is not one of default, random, pct`);
    }
    schedule = args.schedule as ScheduleStrategy;
  }
  const durationSec = count('--duration', args.duration, 0, true);
  const untilFound = count('--until-found', args.untilFound, 1);
  const maxExecs = count('--max-execs', args.maxExecs, 1);
  const kernelConfirmRuns = args.kernelConfirm === true ? 100 : count('--kernel-confirm', args.kernelConfirm || undefined, 1);
  return {
    bugs: [...parseBugList(args.bugs)],
    workers: count('--workers', args.workers, 1) ?? 2,
    seed: count('--seed', args.seed, 0) ?? Date.now() % 2 ** 31,
    feedback: args.feedback !== false,
    scenes: args.scenes !== false,
    aliasCoverage: args.aliasCoverage !== false,
    minimize: args.minimize !== false,
    ...(schedule ? { schedule } : {}),
    ...(durationSec !== undefined ? { durationSec } : {}),
    ...(untilFound !== undefined ? { untilFound } : {}),
    ...(maxExecs !== undefined ? { maxExecs } : {}),
    ...(kernelConfirmRuns !== undefined ? { kernelConfirmRuns } : {}),
  };
}

/** Progress and findings as they come: a live line on a terminal, log lines otherwise. */
function reporter(json: boolean, limitSec: number | undefined): { say: (line: string) => void; onEvent: (e: CampaignEvent) => void } {
  const tty = process.stderr.isTTY === true;
  let lastLog = 0;
  const say = (line: string): void => {
    if (json) return;
    process.stderr.write((tty ? '\r\x1b[K' : '') + line + '\n');
  };
  const onEvent = (e: CampaignEvent): void => {
    switch (e.kind) {
      case 'progress':
        if (tty && !json) process.stderr.write(`\r\x1b[K${progressLine(e.stats, limitSec)}`);
        else if (!json && e.stats.durationSec - lastLog >= PROGRESS_LOG_SEC) {
          lastLog = e.stats.durationSec;
          say(progressLine(e.stats, limitSec));
        }
        break;
      case 'finding':
        say(`new finding after ${e.record.firstSec.toFixed(1)} s (execution ${e.record.firstExec}): ${e.record.signature}` +
          (e.record.repro ? `\n  reproducer: ${e.record.repro} (minimizing)` : ''));
        break;
      case 'minimized':
        say(`minimized ${e.record.signature}: ${e.record.opsBefore} -> ${plural(e.record.opsAfter, 'op')}` +
          (e.error ? ` (kept the original: ${e.error})` : '') + (e.record.repro ? `\n  reproducer: ${e.record.repro}` : ''));
        break;
      case 'confirmed':
        say(`on a real kernel, ${e.record.signature}: ${e.record.kernel?.text ?? '(no verdict)'}`);
        break;
      case 'harness':
        say(`harness error (a simulator bug, not a kernel finding): ${e.error.split('\n')[0]}`);
        break;
    }
  };
  return { say, onEvent };
}

/** The dashboard of this campaign, when --http asks for it; its address is printed. */
async function startDashboard(args: FuzzArgs, campaign: CampaignHandle, opts: CampaignOptions & { storeDir: string }, say: (l: string) => void): Promise<(() => Promise<void>) | null> {
  if (args.http === undefined) return null;
  const { serveEmbeddedDashboard } = await import('../../coordinator/dashboard/embedded.js');
  const h = await serveEmbeddedDashboard(campaign, opts, { address: args.http, ...(args.token !== undefined ? { token: args.token } : {}) });
  say(`dashboard: ${h.url}${args.token !== undefined ? ' (sign in with any user name and the --token as password)' : ''}`);
  return h.close;
}

export async function fuzzCommand(args: FuzzArgs): Promise<number> {
  let opts: CampaignOptions & { storeDir: string };
  try {
    if (args.http !== undefined) checkHttpAddress(args.http);
    const base = campaignOptions(args);
    opts = { ...base, storeDir: chooseStore(args.store, args.append === true) };
    if (base.durationSec === undefined && base.untilFound === undefined && base.maxExecs === undefined) {
      process.stderr.write('fuzz: no --duration, --until-found or --max-execs: running until interrupted (Ctrl-C)\n');
    }
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const { say, onEvent } = reporter(args.json === true, opts.durationSec);
  say(`fuzzing with ${plural(opts.workers, 'worker')}, seed ${opts.seed}, switches: ${opts.bugs.length ? opts.bugs.join(',') : '(none)'}; store ${opts.storeDir}`);
  // Ctrl-C stops fuzzing; pending minimizations finish (a second Ctrl-C kills).
  const ac = new AbortController();
  process.once('SIGINT', () => {
    say('interrupted: finishing pending minimizations (Ctrl-C again to quit at once)');
    ac.abort();
  });
  const campaign = startCampaign({ ...opts, onEvent, progressMs: 500, signal: ac.signal });
  let closeDashboard: (() => Promise<void>) | null = null;
  try {
    closeDashboard = await startDashboard(args, campaign, opts, say);
  } catch (e) {
    say(`dashboard: cannot serve on ${args.http}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const summary = await campaign.done;
  await closeDashboard?.();
  if (args.json) process.stdout.write(JSON.stringify(jsonSummary(summary)) + '\n');
  else {
    say(progressLine({ ...summary, findings: summary.findings.length }, opts.durationSec));
    say('');
    for (const line of listingLines([readRun(opts.storeDir, 'embedded')], opts.storeDir)) say(line);
  }
  return summary.harnessErrors > 0 ? 3 : 0;
}

/** The --json document: exactly the fields the issue's contract names, in its order. */
function jsonSummary(s: CampaignSummary): object {
  return {
    execs: s.execs,
    execsPerSec: Math.round(s.execsPerSec * 10) / 10,
    durationSec: Math.round(s.durationSec * 1000) / 1000,
    corpus: s.corpus,
    coverage: s.coverage,
    findings: s.findings.map((f) => ({
      signature: f.signature, count: f.count, firstFoundSec: f.firstFoundSec, firstFoundExec: f.firstFoundExec,
      opsBefore: f.opsBefore, opsAfter: f.opsAfter, repro: f.repro, ...(f.switches ? { switches: f.switches } : {}),
    })),
  };
}

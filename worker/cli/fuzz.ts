// `foliofuzz fuzz`: an embedded campaign (coordinator and N worker threads in
// one process). On a terminal, a live progress line on stderr; each finding
// is announced as it comes, with where its reproducer is. With --json, one
// JSON document on stdout at the end.

import { ProgramInputError } from '../prog/errors.js';
import { SCHEDULE_STRATEGIES, type ScheduleStrategy } from '../prog/types.js';
import { type CampaignEvent, type CampaignStats, type CampaignSummary, runCampaign } from '../fuzz/campaign.js';
import { parseBugList } from './bugs.js';

export interface FuzzArgs {
  bugs?: string;
  workers?: string;
  duration?: string;
  seed?: string;
  store?: string;
  untilFound?: string;
  maxExecs?: string;
  json?: boolean;
  feedback?: boolean;
  schedule?: string;
  minimize?: boolean;
}

/** A non-negative number flag (an integer unless `fraction`). */
function count(flag: string, v: string | undefined, min: number, fraction = false): number | undefined {
  if (v === undefined) return undefined;
  const shape = fraction ? /^\d+(\.\d+)?$/ : /^\d+$/;
  if (!shape.test(v) || Number(v) < min) {
    throw new ProgramInputError(`${flag}: '${v}' is not ${fraction ? 'a number' : 'an integer'} >= ${min}`);
  }
  return Number(v);
}

function progressLine(s: CampaignStats): string {
  return `execs ${s.execs}  ${s.execsPerSec.toFixed(0)}/s  corpus ${s.corpus}  coverage ${s.coverage}  findings ${s.findings}` +
    (s.harnessErrors ? `  harness errors ${s.harnessErrors}` : '') + `  ${s.durationSec.toFixed(0)}s`;
}

export async function fuzzCommand(args: FuzzArgs): Promise<number> {
  let schedule: ScheduleStrategy | undefined;
  let opts;
  try {
    const bugs = [...parseBugList(args.bugs)];
    if (args.schedule !== undefined) {
      if (!(SCHEDULE_STRATEGIES as readonly string[]).includes(args.schedule) || args.schedule === 'replay') {
        throw new ProgramInputError(`--schedule: '${args.schedule}' is not one of default, random, pct`);
      }
      schedule = args.schedule as ScheduleStrategy;
    }
    const durationSec = count('--duration', args.duration, 0, true);
    const untilFound = count('--until-found', args.untilFound, 1);
    const maxExecs = count('--max-execs', args.maxExecs, 1);
    opts = {
      bugs,
      workers: count('--workers', args.workers, 1) ?? 2,
      seed: count('--seed', args.seed, 0) ?? Date.now() % 2 ** 31,
      feedback: args.feedback !== false,
      minimize: args.minimize !== false,
      ...(schedule ? { schedule } : {}),
      ...(durationSec !== undefined ? { durationSec } : {}),
      ...(untilFound !== undefined ? { untilFound } : {}),
      ...(maxExecs !== undefined ? { maxExecs } : {}),
      storeDir: args.store ?? 'foliofuzz-store',
    };
    if (durationSec === undefined && untilFound === undefined && maxExecs === undefined) {
      process.stderr.write('fuzz: no --duration, --until-found or --max-execs: running until interrupted (Ctrl-C)\n');
    }
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const tty = process.stderr.isTTY === true;
  const say = (line: string): void => {
    if (args.json) return;
    process.stderr.write((tty ? '\r\x1b[K' : '') + line + '\n');
  };
  say(`fuzzing with ${opts.workers} workers, seed ${opts.seed}, switches: ${opts.bugs.length ? opts.bugs.join(',') : '(none)'}; store ${opts.storeDir}`);
  const onEvent = (e: CampaignEvent): void => {
    switch (e.kind) {
      case 'progress':
        if (tty) process.stderr.write(`\r\x1b[K${progressLine(e.stats)}`);
        break;
      case 'finding':
        say(`new finding after ${e.record.firstSec.toFixed(1)} s (exec ${e.record.firstExec}): ${e.record.signature}` +
          (e.record.repro ? `\n  reproducer: ${e.record.repro} (minimizing)` : ''));
        break;
      case 'minimized':
        say(`minimized ${e.record.signature}: ${e.record.opsBefore} -> ${e.record.opsAfter} ops` +
          (e.error ? ` (kept the original: ${e.error})` : '') + (e.record.repro ? `\n  reproducer: ${e.record.repro}` : ''));
        break;
      case 'harness':
        say(`harness error (a simulator bug, not a kernel finding): ${e.error.split('\n')[0]}`);
        break;
    }
  };
  // Ctrl-C stops fuzzing; pending minimizations finish (a second Ctrl-C kills).
  const ac = new AbortController();
  process.once('SIGINT', () => {
    say('interrupted: finishing pending minimizations (Ctrl-C again to quit at once)');
    ac.abort();
  });
  const summary = await runCampaign({ ...opts, onEvent, progressMs: 500, signal: ac.signal });
  if (args.json) process.stdout.write(JSON.stringify(jsonSummary(summary)) + '\n');
  else {
    say(progressLine({ ...summary, findings: summary.findings.length }));
    for (const f of summary.findings) say(`  ${f.count}x  ${f.signature}  -> ${f.repro ?? '(not stored)'}`);
  }
  return summary.harnessErrors > 0 ? 3 : 0;
}

/** The --json document: exactly the fields the contract names, in its order. */
function jsonSummary(s: CampaignSummary): object {
  return {
    execs: s.execs,
    execsPerSec: Math.round(s.execsPerSec * 10) / 10,
    durationSec: Math.round(s.durationSec * 1000) / 1000,
    corpus: s.corpus,
    coverage: s.coverage,
    findings: s.findings.map((f) => ({
      signature: f.signature, count: f.count, firstFoundSec: f.firstFoundSec, firstFoundExec: f.firstFoundExec,
      opsBefore: f.opsBefore, opsAfter: f.opsAfter, repro: f.repro,
    })),
  };
}

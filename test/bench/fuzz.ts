// The fuzz benchmark (`npm run bench -- fuzz`): how fast embedded campaigns
// find each seed switch, against a blind baseline, and how small the
// minimized reproducers come out against the hand-written ones.
//
// Per switch and mode, `trials` campaigns with different seeds, each with
// only that switch on, stopping at the first finding or after `budgetSec`.
// Modes: `feedback` (coverage-guided corpus, the generator's own schedules)
// and `baseline` (--no-feedback --schedule random). A finding counts for the
// switch whatever its signature: with every switch off the fuzzer reports
// nothing (the last part checks that for `offSec` seconds).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../worker/exec/run.js';
import { type CampaignOptions, runCampaign } from '../../worker/fuzz/campaign.js';
import { parseRepro } from '../../worker/repro/repro.js';
import { programSize } from '../../worker/fuzz/minimize.js';
import type { Program } from '../../worker/prog/types.js';
import { BUG_SWITCHES, type BugName } from '../../worker/sim/bugs.js';

export interface FuzzBenchOptions {
  trials: number;
  budgetSec: number;
  workers: number;
  offSec: number;
  switches: BugName[];
  modes: ('feedback' | 'baseline')[];
  seed: number;
  log: (line: string) => void;
}

export const SEED_SWITCHES: BugName[] = BUG_SWITCHES.filter((b) => b.implemented && b.source.startsWith('seeds/')).map((b) => b.name);

const KNOWN_DIR = fileURLToPath(new URL('../../../corpus/known/', import.meta.url));

/** Ops in the hand-written reproducer of a switch. */
function knownSize(sw: BugName): number | null {
  try {
    return programSize(JSON.parse(readFileSync(join(KNOWN_DIR, `${sw}.json`), 'utf8')) as Program);
  } catch {
    return null;
  }
}

interface Trial {
  found: boolean;
  sec: number;
  execs: number;
  signature: string;
  opsBefore: number;
  opsAfter: number;
  /** The reproducer also fires with every switch off: not the switch's bug. */
  falsePositive: boolean;
}

async function trial(sw: BugName | null, mode: 'feedback' | 'baseline', seed: number, budgetSec: number, workers: number): Promise<Trial> {
  const store = mkdtempSync(join(tmpdir(), 'foliofuzz-bench-'));
  try {
    const opts: CampaignOptions = {
      bugs: sw ? [sw] : [], workers, seed, durationSec: budgetSec, untilFound: 1, storeDir: store,
      feedback: mode === 'feedback', minimize: true, minimizeWaitSec: 120,
      ...(mode === 'baseline' ? { schedule: 'random' as const } : {}),
    };
    const s = await runCampaign(opts);
    const f = s.findings[0];
    if (!f) return { found: false, sec: s.durationSec, execs: s.execs, signature: '', opsBefore: 0, opsAfter: 0, falsePositive: false };
    // Honesty: the reproducer must be clean with every switch off.
    const repro = f.repro ? parseRepro(readFileSync(f.repro, 'utf8'), f.repro) : null;
    const falsePositive = sw !== null && repro !== null && runProgram(repro.program).violation !== null;
    return {
      found: true, sec: f.firstFoundSec, execs: f.firstFoundExec, signature: f.signature, opsBefore: f.opsBefore, opsAfter: f.opsAfter,
      falsePositive,
    };
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface FuzzBenchResult {
  ok: boolean;
  problems: string[];
  /** A markdown table of the results (for BENCHMARKS.md). */
  table: string[];
}

export async function benchFuzz(o: FuzzBenchOptions): Promise<FuzzBenchResult> {
  const problems: string[] = [];
  const table = [
    '| switch | mode | found | median time-to-find | median execs | minimized ops (median) | hand-written ops |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const sw of o.switches) {
    for (const mode of o.modes) {
      const trials: Trial[] = [];
      for (let i = 0; i < o.trials; i++) {
        const t = await trial(sw, mode, o.seed + i * 7919, o.budgetSec, o.workers);
        trials.push(t);
        o.log(`  ${sw} ${mode} trial ${i + 1}: ${t.found ? `found in ${t.sec.toFixed(1)} s (${t.execs} execs), ${t.opsBefore} -> ${t.opsAfter} ops: ${t.signature}` : `not found in ${o.budgetSec} s`}` +
          (t.falsePositive ? ' (FALSE POSITIVE: fires with every switch off)' : ''));
        if (t.falsePositive) problems.push(`${sw} ${mode} trial ${i + 1}: ${t.signature} fires with every switch off`);
      }
      const found = trials.filter((t) => t.found && !t.falsePositive);
      const known = knownSize(sw);
      const medOps = median(found.map((t) => t.opsAfter));
      table.push(`| ${sw} | ${mode} | ${found.length}/${o.trials} | ${found.length ? median(found.map((t) => t.sec)).toFixed(1) + ' s' : '—'} | ` +
        `${found.length ? median(found.map((t) => t.execs)).toFixed(0) : '—'} | ${found.length ? medOps : '—'} | ${known ?? '?'} |`);
      o.log(table[table.length - 1]!);
      if (mode === 'feedback' && found.length < o.trials) problems.push(`${sw}: found in ${found.length}/${o.trials} trials`);
      if (mode === 'feedback' && known !== null && found.some((t) => t.opsAfter > known)) {
        problems.push(`${sw}: a minimized reproducer is larger than the hand-written one (${Math.max(...found.map((t) => t.opsAfter))} > ${known} ops)`);
      }
    }
  }
  if (o.offSec > 0) {
    const t = await trial(null, 'feedback', o.seed, o.offSec, o.workers);
    const line = t.found ? `every switch off, ${o.offSec} s: FINDING ${t.signature}` : `every switch off, ${o.offSec} s: no finding (${t.execs} execs)`;
    o.log(line);
    table.push('', line);
    if (t.found) problems.push(line);
  }
  return { ok: problems.length === 0, problems, table };
}

// The fuzz benchmark (`npm run bench -- fuzz`): how fast embedded campaigns
// find each seed switch, against a blind baseline, and how small the
// minimized reproducers come out against the hand-written ones.
//
// Per switch and mode, `trials` campaigns with different seeds, each with
// only that switch on, stopping at the first finding or after `budgetSec`.
// Modes: `feedback` (coverage-guided corpus, the generator's own schedules)
// and `baseline` (--no-feedback --schedule random), each also without the
// generator's scenes (`feedback-noscenes`, `baseline-noscenes`: `fuzz
// --no-scenes`), which shows what the search finds that no one aimed it at,
// and feedback without alias coverage (`feedback-noalias`,
// `feedback-noscenes-noalias`: `fuzz --no-alias-coverage`), which shows what
// the alias pairs buy.
// A finding counts for the switch whatever its signature: with every switch
// off the fuzzer reports nothing (the last part checks that for `offSec`
// seconds). Without scenes, the table also compares feedback with the blind
// baseline in executions (a trial that found nothing counts as never).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../worker/exec/run.js';
import { keepFalsePositive } from './false-positives.js';
import { type CampaignEvent, type CampaignOptions, runCampaign } from '../../worker/fuzz/campaign.js';
import type { FindingRecord } from '../../worker/fuzz/findings/record.js';
import { programSize } from '../../worker/fuzz/minimize-predicate.js';
import type { Program } from '../../worker/prog/types.js';
import { BUG_SWITCHES, type BugName } from '../../worker/sim/bugs.js';

export interface FuzzBenchOptions {
  trials: number;
  budgetSec: number;
  workers: number;
  offSec: number;
  switches: BugName[];
  modes: FuzzMode[];
  seed: number;
  log: (line: string) => void;
}

export const FUZZ_MODES = [
  'feedback', 'baseline', 'feedback-noscenes', 'baseline-noscenes', 'feedback-noalias', 'feedback-noscenes-noalias',
] as const;
export type FuzzMode = (typeof FUZZ_MODES)[number];

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
  /** Signatures found that also fire with every switch off (not the switch's bug). */
  falsePositives: string[];
}

async function trial(sw: BugName | null, mode: FuzzMode, seed: number, budgetSec: number, workers: number): Promise<Trial> {
  const store = mkdtempSync(join(tmpdir(), 'foliofuzz-bench-'));
  // The trial ends at the first finding that is the switch's: one whose first
  // program is clean with every switch off. Others are false positives of the
  // sim, counted as problems (with every switch off, every finding is one).
  const stop = new AbortController();
  const state: { hit: FindingRecord | null } = { hit: null };
  const falsePositives: string[] = [];
  const onEvent = (e: CampaignEvent): void => {
    if (e.kind !== 'finding' || state.hit) return;
    if (sw !== null && runProgram(e.program).violation === null) {
      state.hit = e.record;
      stop.abort();
    } else {
      falsePositives.push(`${e.record.signature} (${keepFalsePositive('fuzz', e.program, e.record.signature)})`);
    }
  };
  try {
    const opts: CampaignOptions = {
      bugs: sw ? [sw] : [], workers, seed, durationSec: budgetSec, storeDir: store,
      feedback: mode.startsWith('feedback'), scenes: !mode.includes('-noscenes'), aliasCoverage: !mode.endsWith('-noalias'), minimize: true, minimizeWaitSec: 120, onEvent, signal: stop.signal,
      ...(mode.startsWith('baseline') ? { schedule: 'random' as const } : {}),
    };
    const s = await runCampaign(opts);
    const found = state.hit;
    if (!found) return { found: false, sec: s.durationSec, execs: s.execs, signature: '', opsBefore: 0, opsAfter: 0, falsePositives };
    const f = s.findings.find((x) => x.signature === found.signature)!;
    return {
      found: true, sec: f.firstFoundSec, execs: f.firstFoundExec, signature: f.signature, opsBefore: f.opsBefore, opsAfter: f.opsAfter,
      falsePositives,
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

/** Median executions to find, a trial that found nothing counting as never (Infinity). */
function medianExecs(trials: readonly Trial[]): number {
  return median(trials.map((t) => (t.found ? t.execs : Infinity)));
}

/** Executions below which a switch is easy for the blind baseline: feedback is not asked to beat it there. */
const BLIND_EASY_EXECS = 10_000;

/**
 * Without scenes, feedback against the blind baseline: a table row, and a
 * problem where the baseline needs more than BLIND_EASY_EXECS and feedback
 * more than a third of it (issue 19's target).
 */
function blindRatio(sw: BugName, byMode: Map<FuzzMode, Trial[]>, problems: string[]): string | null {
  const fb = byMode.get('feedback-noscenes');
  const bl = byMode.get('baseline-noscenes');
  if (!fb || !bl) return null;
  const [f, b] = [medianExecs(fb), medianExecs(bl)];
  const show = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'not found');
  const ratio = Number.isFinite(f) && Number.isFinite(b) ? (f / b).toFixed(2) : Number.isFinite(f) ? '< any' : '—';
  if (b > BLIND_EASY_EXECS && !(f <= b / 3)) problems.push(`${sw}: without scenes feedback needs ${show(f)} execs (median), blind ${show(b)}: more than a third`);
  return `| ${sw} | ${show(b)} | ${show(f)} | ${ratio} |`;
}

export interface FuzzBenchResult {
  ok: boolean;
  problems: string[];
  /** A markdown table of the results (for BENCHMARKS.md). */
  table: string[];
}

export async function benchFuzz(o: FuzzBenchOptions): Promise<FuzzBenchResult> {
  const problems: string[] = [];
  let fpCount = 0;
  const table = [
    '| switch | mode | found | median time-to-find | median execs | minimized ops (median) | hand-written ops |',
    '|---|---|---|---|---|---|---|',
  ];
  const ratios: string[] = [];
  for (const sw of o.switches) {
    const byMode = new Map<FuzzMode, Trial[]>();
    for (const mode of o.modes) {
      const trials: Trial[] = [];
      byMode.set(mode, trials);
      for (let i = 0; i < o.trials; i++) {
        const t = await trial(sw, mode, o.seed + i * 7919, o.budgetSec, o.workers);
        trials.push(t);
        o.log(`  ${sw} ${mode} trial ${i + 1}: ${t.found ? `found in ${t.sec.toFixed(1)} s (${t.execs} execs), ${t.opsBefore} -> ${t.opsAfter} ops: ${t.signature}` : `not found in ${o.budgetSec} s`}` +
          (t.falsePositives.length ? ` (false positives on the way: ${t.falsePositives.join('; ')})` : ''));
        for (const fp of t.falsePositives) problems.push(`${sw} ${mode} trial ${i + 1}: false positive ${fp} (fires with every switch off)`);
      }
      const found = trials.filter((t) => t.found);
      fpCount += trials.reduce((n, t) => n + t.falsePositives.length, 0);
      const known = knownSize(sw);
      const medOps = median(found.map((t) => t.opsAfter));
      table.push(`| ${sw} | ${mode} | ${found.length}/${o.trials} | ${found.length ? median(found.map((t) => t.sec)).toFixed(1) + ' s' : '—'} | ` +
        `${found.length ? median(found.map((t) => t.execs)).toFixed(0) : '—'} | ${found.length ? medOps : '—'} | ${known ?? '?'} |`);
      o.log(table[table.length - 1]!);
      if (mode.startsWith('feedback') && found.length < o.trials) problems.push(`${sw} ${mode}: found in ${found.length}/${o.trials} trials`);
      if (mode === 'feedback' && known !== null && found.some((t) => t.opsAfter > known)) {
        problems.push(`${sw}: a minimized reproducer is larger than the hand-written one (${Math.max(...found.map((t) => t.opsAfter))} > ${known} ops)`);
      }
    }
    const ratio = blindRatio(sw, byMode, problems);
    if (ratio) ratios.push(ratio);
  }
  if (ratios.length) table.push('', '| switch (no scenes) | blind median execs | feedback median execs | feedback / blind |', '|---|---|---|---|', ...ratios);
  table.push('', `false positives met on the way (findings that also fire with every switch off): ${fpCount}`);
  if (o.offSec > 0) {
    const t = await trial(null, 'feedback', o.seed, o.offSec, o.workers);
    const line = t.falsePositives.length
      ? `every switch off, ${o.offSec} s (${t.execs} execs): ${t.falsePositives.length} findings: ${t.falsePositives.join('; ')}`
      : `every switch off, ${o.offSec} s: no finding (${t.execs} execs)`;
    o.log(line);
    table.push('', line);
    if (t.falsePositives.length) problems.push(line);
  }
  return { ok: problems.length === 0, problems, table };
}

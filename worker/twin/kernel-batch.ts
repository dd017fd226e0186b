// One step of a kernel campaign, shared by `fuzz --kernel` (kernel-campaign.ts)
// and the cluster (a worker started with --kernel runs a kernel batch): a
// program on one config, on the real kernel and in the sim (differential.ts),
// its figures added to that config's ConfigStats; and a batch, N programs of
// a generator seeded as asked, on one config, with the findings it met.

import type { BatchFinding } from '../fuzz/messages.js';
import { Fuzzer } from '../fuzz/fuzzer.js';
import type { Program } from '../prog/types.js';
import type { InvariantKind } from '../report/signature.js';
import { aliasReset } from '../sim/alias.js';
import { covReset } from '../sim/cov.js';
import type { Trace } from '../trace/types.js';
import { configName, forTwin } from './configs.js';
import { type TwinOutcome, isSequential, runTwice } from './differential.js';
import type { FsSpec, TwinMount } from './provision.js';
import { searchDivergenceInSim, searchInSim } from './sim-search.js';

/** One config's figures: programs compared, seconds spent on each side, what came of them. */
export interface ConfigStats {
  config: string;
  programs: number;
  /** Of them sequential (compared op by op). */
  sequential: number;
  kernelSec: number;
  simSec: number;
  /** Findings by where they came from, and timing-only divergences. */
  divergences: number;
  kernelViolations: number;
  /** Of the divergences and kernel violations, those the sim shows under a switch (sim-search.ts): every hit is looked for, not just a signature's first. */
  explained: number;
  simViolations: number;
  timing: number;
  errors: number;
}

export function emptyStats(config: string): ConfigStats {
  return { config, programs: 0, sequential: 0, kernelSec: 0, simSec: 0, divergences: 0, kernelViolations: 0, explained: 0, simViolations: 0, timing: 0, errors: 0 };
}

/** The counters of ConfigStats, for summing and checking. */
export const STATS_COUNTS = ['programs', 'sequential', 'divergences', 'kernelViolations', 'explained', 'simViolations', 'timing', 'errors'] as const;

/** `into` += `add` (same config). */
export function addStats(into: ConfigStats, add: ConfigStats): void {
  for (const k of STATS_COUNTS) into[k] += add[k];
  into.kernelSec += add.kernelSec;
  into.simSec += add.simSec;
}

/**
 * The next program for a config: the fuzzer's, as the twin runs it;
 * `sequential`: cut to its first thread, nothing timed, which the
 * differential compares op by op (few generated programs are sequential as
 * they come).
 */
export function nextFor(fuzzer: Fuzzer, spec: FsSpec, sequential: boolean): Program {
  for (;;) {
    const p = forTwin(fuzzer.nextProgram(), spec, sequential);
    if (p) return p;
  }
}

/** Run `p` on both sides of `mount`, count it in `st`; the sim's coverage of it feeds `fuzzer`'s corpus. */
export async function compareOne(fuzzer: Fuzzer, p: Program, mount: TwinMount, st: ConfigStats): Promise<TwinOutcome> {
  covReset();
  aliasReset();
  const r = await runTwice(p, mount);
  fuzzer.execs++;
  st.programs++;
  if (isSequential(p)) st.sequential++;
  st.simSec += r.simSec;
  st.kernelSec += r.kernelSec;
  fuzzer.keepIfNew(p);
  const o = r.outcome;
  if (o.kind === 'timing') st.timing++;
  else if (o.kind === 'error') st.errors++;
  else if (o.kind === 'finding') {
    if (o.source === 'divergence') st.divergences++;
    else if (o.source === 'kernel') st.kernelViolations++;
    else st.simViolations++;
    if (o.source !== 'sim' && explainHit(p, o.violation, r.kernel)) st.explained++;
  }
  return o;
}

/**
 * Whether the sim shows this one hit under some switch. Hits of one
 * signature can come from different configs and different bugs (a lost
 * write on fuse and one on ext4 read alike), so each is looked for.
 */
function explainHit(p: Program, v: { signature: string; kind: InvariantKind }, kernel: Trace | null): boolean {
  if (v.kind !== 'DIVERGENCE') return (searchInSim(p, v)?.switches.length ?? 0) > 0;
  return kernel !== null && searchDivergenceInSim(p, kernel, v.signature) !== null;
}

export interface KernelBatchOptions {
  spec: FsSpec;
  /** The generator's seed: the same seed, count and config give the same programs. */
  seed: number;
  programs: number;
  mount: TwinMount;
  signal?: AbortSignal;
}

export interface KernelBatchOutcome {
  stats: ConfigStats;
  /** Every finding met, in order (`at`: the program's index in the batch, from 1). */
  findings: BatchFinding[];
  errors: string[];
}

/** A kernel batch: `programs` programs of a fresh generator, every other one sequential, on one config. */
export async function runKernelBatch(o: KernelBatchOptions): Promise<KernelBatchOutcome> {
  // No alias coverage: the twin runs the sim outside the executor that records it.
  const fuzzer = new Fuzzer({ seed: o.seed, bugs: new Set(), feedback: true, aliasCoverage: false });
  const stats = emptyStats(configName(o.spec));
  const findings: BatchFinding[] = [];
  const errors: string[] = [];
  for (let i = 0; i < o.programs && !o.signal?.aborted; i++) {
    const p = nextFor(fuzzer, o.spec, i % 2 === 1);
    const r = await compareOne(fuzzer, p, o.mount, stats);
    if (r.kind === 'finding') findings.push({ program: p, violation: r.violation, at: stats.programs });
    else if (r.kind === 'error') errors.push(r.error);
  }
  return { stats, findings, errors };
}

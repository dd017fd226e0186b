// A kernel campaign (`foliofuzz fuzz --kernel`): the generator's programs on
// this machine's real kernel and in the sim, side by side (differential.ts),
// over every filesystem config asked for, one loop mount each, made once and
// reused (files removed between programs). The sim's coverage of each
// program drives the corpus as in any campaign. Findings go through the one
// finding pipeline; a kernel campaign's findings are minimized with the
// kernel as the predicate (kernel-minimize.ts).

import { Store } from '../../corpus/store.js';
import { type FindingJob, FindingPipeline } from '../fuzz/findings/pipeline.js';
import type { Finding, FindingRecord } from '../fuzz/findings/record.js';
import { Fuzzer } from '../fuzz/fuzzer.js';
import type { Program } from '../prog/types.js';
import { covReset } from '../sim/cov.js';
import { configName, forTwin } from './configs.js';
import { type TwinOutcome, runTwice } from './differential.js';
import { minimizeOnKernel } from './kernel-minimize.js';
import { type FsSpec, type TwinMount, provisionMount } from './provision.js';

export interface KernelCampaignOptions {
  configs: readonly FsSpec[];
  seed: number;
  durationSec?: number;
  /** Stop after this many programs. */
  maxPrograms?: number;
  storeDir?: string;
  minimize?: boolean;
  onEvent?: (e: KernelCampaignEvent) => void;
  progressMs?: number;
  signal?: AbortSignal;
}

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
  simViolations: number;
  timing: number;
  errors: number;
}

export interface KernelCampaignStats {
  programs: number;
  durationSec: number;
  corpus: number;
  coverage: number;
  findings: number;
  perConfig: ConfigStats[];
}

export type KernelCampaignEvent =
  | { kind: 'progress'; stats: KernelCampaignStats }
  | { kind: 'finding'; record: FindingRecord; source: string; config: string }
  | { kind: 'minimized'; record: FindingRecord }
  | { kind: 'error'; config: string; error: string };

function emptyStats(config: string): ConfigStats {
  return { config, programs: 0, sequential: 0, kernelSec: 0, simSec: 0, divergences: 0, kernelViolations: 0, simViolations: 0, timing: 0, errors: 0 };
}

class KernelCampaign {
  private readonly fuzzer: Fuzzer;
  private readonly mounts = new Map<string, TwinMount>();
  private readonly stats: ConfigStats[];
  private readonly findings: FindingPipeline;
  private readonly t0 = performance.now();
  private programs = 0;
  private jobSeq = 0;
  private readonly jobs: FindingJob[] = [];
  /** The config each finding was found on (its minimization runs there). */
  private readonly configOf = new Map<string, FsSpec>();

  constructor(private readonly opts: KernelCampaignOptions) {
    this.fuzzer = new Fuzzer({ seed: opts.seed, bugs: new Set(), feedback: true });
    this.stats = opts.configs.map((c) => emptyStats(configName(c)));
    this.findings = new FindingPipeline({
      bugs: [], crossCheck: 'none', minimize: opts.minimize !== false, store: opts.storeDir ? new Store(opts.storeDir) : null,
      newJobId: (kind) => `${kind}-${++this.jobSeq}`,
      events: { issue: (job) => this.jobs.push(job), minimized: (f) => this.opts.onEvent?.({ kind: 'minimized', record: f.record }) },
    });
  }

  private sec(): number {
    return (performance.now() - this.t0) / 1000;
  }

  snapshot(): KernelCampaignStats {
    return {
      programs: this.programs, durationSec: this.sec(), corpus: this.fuzzer.corpus.size, coverage: this.fuzzer.coverage.count,
      findings: this.findings.reported().length, perConfig: this.stats.map((s) => ({ ...s })),
    };
  }

  private mountFor(spec: FsSpec): TwinMount {
    const name = configName(spec);
    let m = this.mounts.get(name);
    if (!m) this.mounts.set(name, (m = provisionMount(spec)));
    return m;
  }

  private done(): boolean {
    if (this.opts.signal?.aborted) return true;
    if (this.opts.maxPrograms !== undefined && this.programs >= this.opts.maxPrograms) return true;
    return this.opts.durationSec !== undefined && this.sec() >= this.opts.durationSec;
  }

  /** The next program for config k: the fuzzer's, as the twin runs it. */
  private nextFor(spec: FsSpec): Program {
    for (;;) {
      const p = forTwin(this.fuzzer.nextProgram(), spec);
      if (p) return p;
    }
  }

  async run(): Promise<KernelCampaignStats> {
    const timer = this.opts.onEvent ? setInterval(() => this.opts.onEvent?.({ kind: 'progress', stats: this.snapshot() }), this.opts.progressMs ?? 1000) : null;
    try {
      for (let k = 0; !this.done(); k = (k + 1) % this.opts.configs.length) {
        await this.runOne(k);
        await this.runJobs();
      }
      await this.runJobs();
      return this.snapshot();
    } finally {
      if (timer) clearInterval(timer);
      for (const m of this.mounts.values()) m.release();
    }
  }

  private async runOne(k: number): Promise<void> {
    const spec = this.opts.configs[k]!;
    const st = this.stats[k]!;
    const p = this.nextFor(spec);
    covReset();
    const r = await runTwice(p, this.mountFor(spec));
    this.fuzzer.execs++;
    this.programs++;
    st.programs++;
    if (p.threads.length === 1) st.sequential++;
    st.simSec += r.simSec;
    st.kernelSec += r.kernelSec;
    this.fuzzer.keepIfNew(p);
    this.tally(st, r.outcome, p, spec);
  }

  private tally(st: ConfigStats, o: TwinOutcome, p: Program, spec: FsSpec): void {
    switch (o.kind) {
      case 'agree':
        return;
      case 'timing':
        st.timing++;
        return;
      case 'error':
        st.errors++;
        this.opts.onEvent?.({ kind: 'error', config: st.config, error: o.error });
        return;
      case 'finding': {
        if (o.source === 'divergence') st.divergences++;
        else if (o.source === 'kernel') st.kernelViolations++;
        else st.simViolations++;
        const before = this.findings.get(o.violation.signature);
        const f = this.findings.found({ violation: o.violation, program: p }, { exec: this.programs, sec: this.sec() }, st.config);
        if (!before) this.newFinding(f, o.source, spec);
      }
    }
  }

  private newFinding(f: Finding, source: string, spec: FsSpec): void {
    this.configOf.set(f.record.signature, spec);
    this.opts.onEvent?.({ kind: 'finding', record: f.record, source, config: configName(spec) });
  }

  /** Minimizations, with the kernel as the predicate, on the mount the finding came from. */
  private async runJobs(): Promise<void> {
    for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
      if (job.kind !== 'minimize') continue;
      const spec = this.configOf.get(job.signature) ?? job.program.config;
      const t0 = performance.now();
      const r = await minimizeOnKernel(job.program, job.signature, this.mountFor(spec));
      this.findings.minimized({
        jobId: job.jobId, signature: job.signature, workerId: 'kernel', program: r.program, opsBefore: r.opsBefore, opsAfter: r.opsAfter,
        ms: performance.now() - t0, slipped: [],
      }, { exec: this.programs, sec: this.sec() });
    }
  }

  reported(): Finding[] {
    return this.findings.reported();
  }
}

export interface KernelCampaignSummary {
  stats: KernelCampaignStats;
  findings: FindingRecord[];
}

export async function runKernelCampaign(opts: KernelCampaignOptions): Promise<KernelCampaignSummary> {
  const c = new KernelCampaign(opts);
  const stats = await c.run();
  return { stats, findings: c.reported().map((f) => f.record) };
}

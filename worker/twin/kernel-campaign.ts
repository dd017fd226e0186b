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
import { configName } from './configs.js';
import type { TwinOutcome } from './differential.js';
import { type ConfigStats, compareOne, emptyStats, nextFor } from './kernel-batch.js';
import { minimizeOnKernel } from './kernel-minimize.js';
import { confirmOnKernel } from './confirm.js';
import { SIM_SEARCH_SCHEDULES, searchDivergenceInSim, searchInSim } from './sim-search.js';
import type { SimSearch, TwinSource } from '../report/twin-origin.js';
import type { InvariantKind } from '../report/signature.js';
import { runOnKernel } from './executor.js';
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
  /** Runs of each minimized finding's confirmation on the kernel (default CONFIRM_RUNS). */
  confirmRuns?: number;
}

/** A kernel finding is confirmed with this many runs of its minimized program. */
const CONFIRM_RUNS = 20;

export type { ConfigStats } from './kernel-batch.js';

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
  | { kind: 'confirmed'; record: FindingRecord }
  | { kind: 'error'; config: string; error: string };

class KernelCampaign {
  private readonly fuzzer: Fuzzer;
  private readonly mounts = new Map<string, TwinMount>();
  private readonly stats: ConfigStats[];
  private readonly findings: FindingPipeline;
  private readonly t0 = performance.now();
  private programs = 0;
  private jobSeq = 0;
  private readonly jobs: FindingJob[] = [];
  /** The config each finding was found on (its minimization runs there), and by which side. */
  private readonly configOf = new Map<string, { spec: FsSpec; source: TwinSource }>();
  private readonly store: Store | null;
  private readonly startedAt = new Date().toISOString();

  constructor(private readonly opts: KernelCampaignOptions) {
    // No alias coverage: the twin runs the sim outside the executor that records it.
    this.fuzzer = new Fuzzer({ seed: opts.seed, bugs: new Set(), feedback: true, aliasCoverage: false });
    this.stats = opts.configs.map((c) => emptyStats(configName(c)));
    this.store = opts.storeDir ? new Store(opts.storeDir) : null;
    this.findings = new FindingPipeline({
      bugs: [], crossCheck: 'none', minimize: opts.minimize !== false, store: this.store,
      newJobId: (kind) => `${kind}-${++this.jobSeq}`,
      kernelConfirmRuns: opts.confirmRuns ?? CONFIRM_RUNS,
      events: {
        issue: (job) => this.jobs.push(job),
        minimized: (f) => this.opts.onEvent?.({ kind: 'minimized', record: f.record }),
        confirmed: (f) => this.opts.onEvent?.({ kind: 'confirmed', record: f.record }),
      },
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

  /** campaign.json: what `foliofuzz findings` and the dashboard read of a run. */
  private persist(state: 'running' | 'done'): void {
    const s = this.snapshot();
    this.store?.saveCampaign({
      kind: 'kernel', bugs: [], seed: this.opts.seed, configs: this.opts.configs.map(configName), state, startedAt: this.startedAt,
      ...(this.opts.durationSec !== undefined ? { durationLimitSec: this.opts.durationSec } : {}),
      execs: s.programs, execsPerSec: s.programs / Math.max(s.durationSec, 1e-9), durationSec: s.durationSec,
      corpus: s.corpus, coverage: s.coverage, perConfig: s.perConfig,
      findings: this.findings.reported().map((f) => ({ id: f.record.id, signature: f.record.signature, count: f.record.count })),
    });
  }

  private progress(): void {
    this.persist('running');
    this.opts.onEvent?.({ kind: 'progress', stats: this.snapshot() });
  }

  async run(): Promise<KernelCampaignStats> {
    const timer = setInterval(() => this.progress(), this.opts.progressMs ?? 1000);
    try {
      for (let k = 0; !this.done(); k = (k + 1) % this.opts.configs.length) {
        await this.runOne(k);
        await this.runJobs();
      }
      await this.runJobs();
      this.persist('done');
      return this.snapshot();
    } finally {
      clearInterval(timer);
      for (const m of this.mounts.values()) m.release();
    }
  }

  private async runOne(k: number): Promise<void> {
    const spec = this.opts.configs[k]!;
    const st = this.stats[k]!;
    const p = nextFor(this.fuzzer, spec, st.programs % 2 === 1);
    const o = await compareOne(this.fuzzer, p, this.mountFor(spec), st);
    this.programs++;
    if (o.kind === 'error') this.opts.onEvent?.({ kind: 'error', config: st.config, error: o.error });
    else if (o.kind === 'finding') this.found(st, o, p, spec);
  }

  /** A finding into the pipeline; a new signature remembers its config and side (its minimization runs there). */
  private found(st: ConfigStats, o: TwinOutcome & { kind: 'finding' }, p: Program, spec: FsSpec): void {
    const before = this.findings.get(o.violation.signature);
    if (!before) this.configOf.set(o.violation.signature, { spec, source: o.source });
    const f = this.findings.found({ violation: o.violation, program: p }, { exec: this.programs, sec: this.sec() }, st.config);
    if (before) return;
    f.record.twin = { source: o.source, config: configName(spec) };
    this.opts.onEvent?.({ kind: 'finding', record: f.record, source: o.source, config: configName(spec) });
  }

  /** The jobs the pipeline issued, on the mount the finding came from: minimize (the kernel as the predicate), then confirm. */
  private async runJobs(): Promise<void> {
    for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
      const origin = this.configOf.get(job.signature);
      const mount = this.mountFor(origin?.spec ?? job.program.config);
      if (job.kind === 'minimize') await this.minimize(job, mount, origin?.source ?? 'kernel');
      else if (job.kind === 'confirm') {
        const verdict = await confirmOnKernel(job.program, { mount, runs: job.runs, seed: this.opts.seed });
        this.findings.confirmed({ jobId: job.jobId, signature: job.signature, verdict });
      }
    }
  }

  /**
   * Minimize on the kernel; then, for a violation of the kernel's, look for
   * it in the sim (sim-search.ts) and keep the answer with the finding.
   */
  private async minimize(job: FindingJob & { kind: 'minimize' }, mount: TwinMount, source: TwinSource): Promise<void> {
    const t0 = performance.now();
    const r = await minimizeOnKernel(job.program, job.signature, mount);
    const f = this.findings.get(job.signature);
    if (f && source !== 'sim') f.record.twin = { source, config: configName(mount.spec), ...(await this.simSearch(r.program, f.record, mount)) };
    this.findings.minimized({
      jobId: job.jobId, signature: job.signature, workerId: 'kernel', program: r.program, opsBefore: r.opsBefore, opsAfter: r.opsAfter,
      ms: performance.now() - t0, slipped: [],
    }, { exec: this.programs, sec: this.sec() });
  }

  /** What the sim shows of a kernel finding: its violation under a switch, or a switch under which it runs as the kernel did. */
  private async simSearch(p: Program, found: { signature: string; kind: InvariantKind }, mount: TwinMount): Promise<{ sim: SimSearch | null; searched: number }> {
    if (found.kind !== 'DIVERGENCE') return { sim: searchInSim(p, found), searched: SIM_SEARCH_SCHEDULES };
    const run = await runOnKernel(p, { dir: mount.dir, runs: 1, ...(mount.owned ? { mount: mount.owned } : {}), timeoutMs: 30_000 });
    mount.clean();
    const kernel = run.traces.find((t) => t.end.outcome === 'done');
    return { sim: kernel ? searchDivergenceInSim(p, kernel, found.signature) : null, searched: 1 };
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

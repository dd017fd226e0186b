// An embedded campaign: the coordinator (this thread) and N fuzzing worker
// threads in one process, no external services.
//
// The coordinator owns the global view: the union of coverage and the corpus
// (every input that brought coverage nobody had, shared with every other
// worker). Findings go through the finding pipeline (findings/pipeline.ts),
// as a cluster campaign's do, without a cross-check: an embedded campaign has
// no second worker process to replay on, so a new signature is reported at
// once and its first program minimized on the worker threads in turn.
// Findings are stored as they come (first program and an unminimized
// reproducer at once, the minimized one when it is ready), so nothing is lost
// if the process dies.
//
// While it runs, a campaign can be watched (startCampaign's handle): its
// stats, their history (a sample every few seconds, kept in campaign.json
// too, for the charts of the dashboard) and what each worker thread does.

import { Worker } from 'node:worker_threads';
import { Store } from '../../corpus/store.js';
import type { Program, ScheduleStrategy } from '../prog/types.js';
import { type KernelVerdict, cannotRunVerdict } from '../report/kernel-verdict.js';
import type { BugName } from '../sim/bugs.js';
import { confirmOnKernel } from '../twin/confirm.js';
import { CoverageSet } from './coverage.js';
import { type FindingJob, FindingPipeline, type MinimizeOutcome } from './findings/pipeline.js';
import type { Finding, FindingRecord } from './findings/record.js';
import type { FromWorker, MinimizeReport, SharedInput, ToWorker } from './messages.js';

export interface CampaignOptions {
  bugs: BugName[];
  workers: number;
  seed: number;
  /** Stop after this long (seconds); unset: until another condition stops it. */
  durationSec?: number;
  /** Stop once this many distinct signatures were found. */
  untilFound?: number;
  /** Stop after this many executions (tests use it as a fixed budget). */
  maxExecs?: number;
  /** Where corpus, findings and reproducers go; unset: nothing is written. */
  storeDir?: string;
  /** Coverage feedback (off: the blind-generation baseline). */
  feedback: boolean;
  /** Force multi-threaded programs onto one strategy (the baseline's `random`). */
  schedule?: ScheduleStrategy;
  /** Generate with the scenes (default true; false: `--no-scenes`, the op mix alone). */
  scenes?: boolean;
  /** Keep programs that reach new alias pairs too (default true; `--no-alias-coverage`: false). */
  aliasCoverage?: boolean;
  /** Minimize each new signature's first program (default true). */
  minimize?: boolean;
  /** Run each finding's (minimized) reproducer this many times on the real kernel (the kernel twin; needs root). */
  kernelConfirmRuns?: number;
  /** How long to wait for pending minimizations after fuzzing stopped (default 60 s). */
  minimizeWaitSec?: number;
  /** Per-execution wall-time limit. */
  timeoutMs?: number;
  /** Live events: progress every `progressMs`, each new finding, each minimized reproducer. */
  onEvent?: (e: CampaignEvent) => void;
  progressMs?: number;
  /** Aborting stops fuzzing as --duration would (Ctrl-C). */
  signal?: AbortSignal;
}

export interface CampaignStats {
  execs: number;
  execsPerSec: number;
  durationSec: number;
  corpus: number;
  coverage: number;
  findings: number;
  harnessErrors: number;
  timeouts: number;
}

export type CampaignEvent =
  | { kind: 'progress'; stats: CampaignStats }
  /** A new signature, reported (with the first program that hit it). */
  | { kind: 'finding'; record: FindingRecord; program: Program; dir: string | null }
  | { kind: 'minimized'; record: FindingRecord; ms: number; error?: string }
  /** The kernel twin's verdict on a finding (record.kernel). */
  | { kind: 'confirmed'; record: FindingRecord }
  | { kind: 'harness'; error: string; program?: Program };

export interface FindingSummary {
  signature: string;
  count: number;
  firstFoundSec: number;
  firstFoundExec: number;
  opsBefore: number;
  opsAfter: number;
  repro: string | null;
  /** The smallest set of the campaign's switches it needs, once its minimization found it. */
  switches?: string[];
}

/** One point of a campaign's history: seconds since its start and the counters then. */
export interface HistorySample {
  sec: number;
  execs: number;
  corpus: number;
  coverage: number;
  findings: number;
}

/** What one worker thread does now. */
export interface WorkerThreadStats {
  name: string;
  state: 'fuzzing' | 'minimizing' | 'idle';
  execs: number;
  /** The signature being minimized, when minimizing. */
  minimizing?: string;
}

/** The campaign's phase: fuzzing, then minimizing what it found, then done. */
export type CampaignPhase = 'running' | 'minimizing' | 'done';

/** A running campaign, as startCampaign returns it. */
export interface CampaignHandle {
  done: Promise<CampaignSummary>;
  phase(): CampaignPhase;
  stats(): CampaignStats;
  history(): readonly HistorySample[];
  workers(): WorkerThreadStats[];
  /** ISO-8601 wall time of the start. */
  startedAt: string;
}

export interface CampaignSummary {
  execs: number;
  execsPerSec: number;
  durationSec: number;
  corpus: number;
  coverage: number;
  findings: FindingSummary[];
  harnessErrors: number;
  timeouts: number;
}

const BATCH_MS = 200;
/** A history sample this often, at most HISTORY_MAX of them (addSample). */
const HISTORY_MS = 2000;
const HISTORY_MAX = 1000;

class EmbeddedCampaign {
  private readonly workers: Worker[] = [];
  private readonly coverage = new CoverageSet();
  private readonly store: Store | null;
  private readonly findings: FindingPipeline;
  private corpusSize = 0;
  private execs = 0;
  private harnessErrors = 0;
  private timeouts = 0;
  private readonly t0 = performance.now();
  private fuzzing = true;
  private jobSeq = 0;
  /** Kernel confirmations, one after another. */
  private confirms: Promise<void> = Promise.resolve();
  private nextMinimizer = 0;
  private finish: (() => void) | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly samples: HistorySample[] = [];
  private readonly workerExecs: number[] = [];
  /** Per worker thread, the signature it is minimizing (a campaign sends each minimization to one thread). */
  private readonly workerJobs: (string | undefined)[] = [];
  /** The stats as the campaign ended (then they stay so). */
  private final: CampaignStats | null = null;
  readonly startedAt = new Date().toISOString();

  constructor(private readonly opts: CampaignOptions) {
    this.store = opts.storeDir ? new Store(opts.storeDir) : null;
    this.findings = new FindingPipeline({
      bugs: opts.bugs, crossCheck: 'none', minimize: opts.minimize !== false, store: this.store,
      ...(opts.kernelConfirmRuns !== undefined ? { kernelConfirmRuns: opts.kernelConfirmRuns } : {}),
      newJobId: (kind) => `${kind}-${++this.jobSeq}`,
      events: {
        issue: (job) => this.issue(job),
        reported: (f) => this.onReported(f),
        minimized: (f, o) => this.onMinimized(f, o),
        confirmed: (f) => this.opts.onEvent?.({ kind: 'confirmed', record: f.record }),
      },
    });
  }

  private sec(): number {
    return (performance.now() - this.t0) / 1000;
  }

  stats(): CampaignStats {
    if (this.final) return this.final;
    const durationSec = this.sec();
    return {
      execs: this.execs,
      execsPerSec: durationSec > 0 ? this.execs / durationSec : 0,
      durationSec,
      corpus: this.corpusSize,
      coverage: this.coverage.count,
      findings: this.findings.reported().length,
      harnessErrors: this.harnessErrors,
      timeouts: this.timeouts,
    };
  }

  phase(): CampaignPhase {
    return this.final ? 'done' : this.fuzzing ? 'running' : 'minimizing';
  }

  history(): readonly HistorySample[] {
    return this.samples;
  }

  workerStats(): WorkerThreadStats[] {
    return this.workers.map((_, i) => {
      const job = this.workerJobs[i];
      const state = job !== undefined ? 'minimizing' : this.fuzzing ? 'fuzzing' : 'idle';
      return { name: workerName(i), state, execs: this.workerExecs[i] ?? 0, ...(job !== undefined ? { minimizing: job } : {}) };
    });
  }

  private sample(): void {
    const s = this.stats();
    addSample(this.samples, { sec: round(s.durationSec), execs: s.execs, corpus: s.corpus, coverage: s.coverage, findings: s.findings });
  }

  async run(): Promise<CampaignSummary> {
    const done = new Promise<void>((resolve) => (this.finish = resolve));
    const n = Math.max(1, this.opts.workers);
    this.sample();
    this.persistCampaign(this.stats(), 'running');
    this.timers.push(setInterval(() => this.sample(), HISTORY_MS));
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./campaign-worker.js', import.meta.url));
      w.on('message', (m: FromWorker) => this.onMessage(i, m));
      w.on('error', (e) => {
        this.harnessErrors++;
        this.opts.onEvent?.({ kind: 'harness', error: `worker ${i} died: ${e.message}` });
      });
      this.workers.push(w);
      this.send(i, {
        type: 'start', seed: (this.opts.seed + i * 0x9e3779b1) >>> 0, bugs: this.opts.bugs, feedback: this.opts.feedback,
        scenes: this.opts.scenes !== false, aliasCoverage: this.opts.aliasCoverage !== false,
        timeoutMs: this.opts.timeoutMs ?? 2000, batchMs: BATCH_MS, maxExecs: this.opts.maxExecs ?? 0,
        ...(this.opts.schedule ? { schedule: this.opts.schedule } : {}),
      });
    }
    this.opts.signal?.addEventListener('abort', () => this.stopFuzzing(), { once: true });
    if (this.opts.durationSec !== undefined) this.timers.push(setTimeout(() => this.stopFuzzing(), this.opts.durationSec * 1000));
    if (this.opts.onEvent) {
      this.timers.push(setInterval(() => this.opts.onEvent?.({ kind: 'progress', stats: this.stats() }), this.opts.progressMs ?? 1000));
    }
    await done;
    for (const t of this.timers) clearTimeout(t);
    const stats = this.stats();
    this.sample();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.final = stats;
    this.persistCampaign(stats, 'done');
    return {
      execs: stats.execs, execsPerSec: stats.execsPerSec, durationSec: stats.durationSec, corpus: stats.corpus,
      coverage: stats.coverage, harnessErrors: stats.harnessErrors, timeouts: stats.timeouts,
      findings: this.findings.reported().map((f) => summarize(f.record)),
    };
  }

  private send(i: number, m: ToWorker): void {
    this.workers[i]!.postMessage(m);
  }

  private onMessage(from: number, m: FromWorker): void {
    if (m.type === 'minimized') {
      this.onMinimizeReport(from, m);
      return;
    }
    const base = this.execs;
    if (this.fuzzing) {
      this.execs += m.execs;
      this.workerExecs[from] = (this.workerExecs[from] ?? 0) + m.execs;
    }
    this.timeouts += m.timeouts;
    this.shareInputs(from, m.newInputs);
    for (const h of m.harness) {
      this.harnessErrors++;
      this.opts.onEvent?.({ kind: 'harness', error: h.error, program: h.program });
    }
    for (const f of m.findings) this.findings.found(f, { exec: base + f.at, sec: this.sec() }, workerName(from));
    if (this.opts.maxExecs !== undefined && this.execs >= this.opts.maxExecs) this.stopFuzzing();
  }

  /** Keep the inputs that are still new to the campaign and pass them to the other workers. */
  private shareInputs(from: number, inputs: readonly (SharedInput & { newPoints: number })[]): void {
    const kept: SharedInput[] = [];
    for (const input of inputs) {
      if (this.coverage.add(input.points) === 0) continue;
      this.corpusSize++;
      kept.push({ program: input.program, points: input.points });
      this.store?.saveInput(input.program, input.points);
    }
    if (!kept.length || !this.opts.feedback) return;
    for (let i = 0; i < this.workers.length; i++) if (i !== from) this.send(i, { type: 'inputs', inputs: kept });
  }

  /**
   * Minimization jobs go to the worker threads in turn (nothing is
   * cross-checked here: no verify jobs); kernel confirmations run here, one
   * at a time (they wait on the executor's processes, not on a core).
   */
  private issue(job: FindingJob): void {
    if (job.kind === 'confirm') {
      this.confirms = this.confirms.then(() => this.confirmOnKernel(job));
      return;
    }
    if (job.kind !== 'minimize') throw new Error(`embedded campaign: a ${job.kind} job, but it does not cross-check`);
    const w = this.nextMinimizer++ % this.workers.length;
    this.workerJobs[w] = job.signature;
    this.send(w, {
      type: 'minimize', jobId: job.jobId, signature: job.signature, program: job.program, maxRuns: job.maxRuns, deadlineMs: job.deadlineMs,
    });
  }

  private async confirmOnKernel(job: FindingJob & { kind: 'confirm' }): Promise<void> {
    let verdict: KernelVerdict;
    try {
      verdict = await confirmOnKernel(job.program, { runs: job.runs });
    } catch (e) {
      verdict = cannotRunVerdict(`the kernel twin failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.findings.confirmed({ jobId: job.jobId, signature: job.signature, verdict });
    this.maybeFinish();
  }

  private onReported(f: Finding): void {
    const dir = this.store ? this.store.findingDir(f.record.signature) : null;
    this.opts.onEvent?.({ kind: 'finding', record: f.record, program: f.firstProgram, dir });
    if (this.opts.untilFound !== undefined && this.findings.reported().length >= this.opts.untilFound) this.stopFuzzing();
  }

  private onMinimizeReport(from: number, m: MinimizeReport): void {
    if (this.workerJobs[from] === m.signature) delete this.workerJobs[from];
    this.findings.minimized({ ...m, workerId: workerName(from) }, { exec: this.execs, sec: this.sec() });
    this.maybeFinish();
  }

  private onMinimized(f: Finding, o: MinimizeOutcome): void {
    this.opts.onEvent?.({ kind: 'minimized', record: f.record, ms: o.ms, ...(o.error ? { error: o.error } : {}) });
  }

  private stopFuzzing(): void {
    if (!this.fuzzing) return;
    this.fuzzing = false;
    for (let i = 0; i < this.workers.length; i++) this.send(i, { type: 'pause' });
    const wait = (this.opts.minimizeWaitSec ?? 60) * 1000;
    this.timers.push(setTimeout(() => this.finish?.(), wait));
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (!this.fuzzing && this.findings.minimizing === 0 && this.findings.confirming === 0) this.finish?.();
  }

  /** campaign.json: settings and counters at the start and at the end, with the history for charts. */
  private persistCampaign(stats: CampaignStats, state: 'running' | 'done'): void {
    this.store?.saveCampaign({
      bugs: this.opts.bugs, seed: this.opts.seed, workers: Math.max(1, this.opts.workers), feedback: this.opts.feedback,
      state, startedAt: this.startedAt, ...(this.opts.durationSec !== undefined ? { durationLimitSec: this.opts.durationSec } : {}), ...stats,
      findings: this.findings.reported().map((f) => ({ id: f.record.id, ...summarize(f.record) })),
      history: this.samples,
    });
  }
}

/** Add a sample to a history; past HISTORY_MAX samples every other one goes, so a long campaign keeps its shape. */
export function addSample(history: HistorySample[], s: HistorySample): void {
  history.push(s);
  if (history.length > HISTORY_MAX) {
    for (let i = 1; i < history.length; i++) history.splice(i, 1);
  }
}

/** A worker thread as a finding's finder. */
function workerName(i: number): string {
  return `worker-${i}`;
}

function summarize(r: FindingRecord): FindingSummary {
  return {
    signature: r.signature, count: r.count, firstFoundSec: round(r.firstSec), firstFoundExec: r.firstExec,
    opsBefore: r.opsBefore, opsAfter: r.opsAfter, repro: r.repro ?? null, ...(r.switches ? { switches: [...r.switches] } : {}),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Start a campaign; the handle watches it while it runs. */
export function startCampaign(opts: CampaignOptions): CampaignHandle {
  const c = new EmbeddedCampaign(opts);
  return {
    done: c.run(), startedAt: c.startedAt,
    phase: () => c.phase(), stats: () => c.stats(), history: () => c.history(), workers: () => c.workerStats(),
  };
}

export function runCampaign(opts: CampaignOptions): Promise<CampaignSummary> {
  return startCampaign(opts).done;
}

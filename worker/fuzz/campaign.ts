// An embedded campaign: the coordinator (this thread) and N fuzzing worker
// threads in one process, no external services.
//
// The coordinator owns the global view: the union of coverage, the corpus
// (every input that brought coverage nobody had, shared with every other
// worker), triage by signature, and the minimization of each new signature's
// first program, which it hands to the workers in turn. Findings are stored
// as they come (first program and an unminimized reproducer at once, the
// minimized one when it is ready), so nothing is lost if the process dies.

import { Worker } from 'node:worker_threads';
import { Store } from '../../corpus/store.js';
import { findingId } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import type { Program, ScheduleStrategy } from '../prog/types.js';
import type { BugName } from '../sim/bugs.js';
import { makeRepro, reproJson } from '../repro/repro.js';
import { CoverageSet } from './coverage.js';
import type { BatchFinding, FromWorker, MinimizeReport, SharedInput, ToWorker } from './messages.js';
import { DEFAULT_MAX_RUNS, DEFAULT_MINIMIZE_DEADLINE_MS, programSize } from './minimize.js';
import { type FindingRecord, Triage } from './triage.js';

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
  /** Minimize each new signature's first program (default true). */
  minimize?: boolean;
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
  | { kind: 'finding'; record: FindingRecord; dir: string | null }
  | { kind: 'minimized'; record: FindingRecord; ms: number; error?: string }
  | { kind: 'harness'; error: string; program?: Program };

export interface FindingSummary {
  signature: string;
  count: number;
  firstFoundSec: number;
  firstFoundExec: number;
  opsBefore: number;
  opsAfter: number;
  repro: string | null;
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

class EmbeddedCampaign {
  private readonly workers: Worker[] = [];
  private readonly coverage = new CoverageSet();
  private readonly triage = new Triage();
  private readonly store: Store | null;
  private corpusSize = 0;
  private execs = 0;
  private harnessErrors = 0;
  private timeouts = 0;
  private readonly t0 = performance.now();
  private fuzzing = true;
  private pendingMinimize = 0;
  private nextMinimizer = 0;
  private finish: (() => void) | null = null;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: CampaignOptions) {
    this.store = opts.storeDir ? new Store(opts.storeDir) : null;
  }

  private sec(): number {
    return (performance.now() - this.t0) / 1000;
  }

  stats(): CampaignStats {
    const durationSec = this.sec();
    return {
      execs: this.execs,
      execsPerSec: durationSec > 0 ? this.execs / durationSec : 0,
      durationSec,
      corpus: this.corpusSize,
      coverage: this.coverage.count,
      findings: this.triage.unique,
      harnessErrors: this.harnessErrors,
      timeouts: this.timeouts,
    };
  }

  async run(): Promise<CampaignSummary> {
    const done = new Promise<void>((resolve) => (this.finish = resolve));
    const n = Math.max(1, this.opts.workers);
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
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.persistCampaign(stats);
    return {
      execs: stats.execs, execsPerSec: stats.execsPerSec, durationSec: stats.durationSec, corpus: stats.corpus,
      coverage: stats.coverage, harnessErrors: stats.harnessErrors, timeouts: stats.timeouts,
      findings: this.triage.records.map(summarize),
    };
  }

  private send(i: number, m: ToWorker): void {
    this.workers[i]!.postMessage(m);
  }

  private onMessage(from: number, m: FromWorker): void {
    if (m.type === 'minimized') {
      this.onMinimized(m);
      return;
    }
    const base = this.execs;
    if (this.fuzzing) this.execs += m.execs;
    this.timeouts += m.timeouts;
    this.shareInputs(from, m.newInputs);
    for (const h of m.harness) {
      this.harnessErrors++;
      this.opts.onEvent?.({ kind: 'harness', error: h.error, program: h.program });
    }
    for (const f of m.findings) this.onFinding(f, base + f.at);
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

  private onFinding(f: BatchFinding, exec: number): void {
    const { rec, isNew } = this.triage.record(f.violation, f.program, exec, this.sec());
    if (!isNew) {
      this.saveFindingMeta(rec);
      return;
    }
    let dir: string | null = null;
    if (this.store) {
      dir = this.store.saveFinding(rec.signature, findingMeta(rec), f.program);
      rec.repro = this.store.saveRepro(rec.signature, reproJson(makeRepro(f.program, this.opts.bugs, f.violation, {
        foundAt: { exec, sec: Math.round(rec.firstSec) },
      })));
    }
    if (this.opts.minimize !== false) {
      this.pendingMinimize++;
      const w = this.nextMinimizer++ % this.workers.length;
      this.send(w, {
        type: 'minimize', signature: rec.signature, program: f.program, maxRuns: DEFAULT_MAX_RUNS, deadlineMs: DEFAULT_MINIMIZE_DEADLINE_MS,
      });
    }
    // After the minimization is queued: a listener that stops the campaign here still gets it.
    this.opts.onEvent?.({ kind: 'finding', record: rec, dir });
    if (this.opts.untilFound !== undefined && this.triage.unique >= this.opts.untilFound) this.stopFuzzing();
  }

  private onMinimized(m: MinimizeReport): void {
    this.pendingMinimize--;
    const rec = this.triage.get(m.signature);
    for (const f of m.slipped) this.onFinding(f, this.execs);
    if (rec) {
      const program = m.program ?? rec.firstProgram;
      rec.minimized = { program, opsBefore: m.opsBefore, opsAfter: m.program ? m.opsAfter : m.opsBefore };
      if (this.store) {
        const violation = violationOf(rec);
        rec.repro = this.store.saveRepro(rec.signature, reproJson(makeRepro(program, this.opts.bugs, violation, {
          minimized: { opsBefore: m.opsBefore, opsAfter: rec.minimized.opsAfter },
          foundAt: { exec: rec.firstExec, sec: Math.round(rec.firstSec) },
        })));
        this.saveFindingMeta(rec);
      }
      this.opts.onEvent?.({ kind: 'minimized', record: rec, ms: m.ms, ...(m.error ? { error: m.error } : {}) });
    }
    this.maybeFinish();
  }

  private saveFindingMeta(rec: FindingRecord): void {
    if (this.store) this.store.saveFinding(rec.signature, findingMeta(rec), rec.firstProgram);
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
    if (!this.fuzzing && this.pendingMinimize <= 0) this.finish?.();
  }

  private persistCampaign(stats: CampaignStats): void {
    this.store?.saveCampaign({
      bugs: this.opts.bugs, seed: this.opts.seed, workers: this.workers.length, feedback: this.opts.feedback, ...stats,
      findings: this.triage.records.map((r) => ({ id: findingId(r.signature), ...summarize(r) })),
    });
  }
}

function summarize(r: FindingRecord): FindingSummary {
  const before = programSize(r.firstProgram);
  return {
    signature: r.signature, count: r.count, firstFoundSec: round(r.firstSec), firstFoundExec: r.firstExec,
    opsBefore: r.minimized?.opsBefore ?? before, opsAfter: r.minimized?.opsAfter ?? before, repro: r.repro ?? null,
  };
}

function findingMeta(r: FindingRecord): object {
  const { firstProgram: _first, minimized, ...meta } = r;
  return { id: findingId(r.signature), ...meta, ...(minimized ? { opsBefore: minimized.opsBefore, opsAfter: minimized.opsAfter } : {}) };
}

function violationOf(r: FindingRecord): RunViolation {
  return { signature: r.signature, invariant: r.invariant, kind: r.kind, message: r.message, stacks: [], traceTail: [], step: 0 };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function runCampaign(opts: CampaignOptions): Promise<CampaignSummary> {
  return new EmbeddedCampaign(opts).run();
}

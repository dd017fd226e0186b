// One campaign as the coordinator holds it: settings and counters, the
// campaign's corpus and coverage, its findings (a finding pipeline that
// cross-checks on another worker), and the batches it has out. Everything
// that must survive a restart is in the campaign's store directory:
//
//   DIR/campaigns/<id>/campaign.json             CampaignRecord (settings, counters, batches out,
//                                                the workers each kernel confirmation and kernel
//                                                batch went to, a kernel campaign's figures per config)
//   DIR/campaigns/<id>/corpus/<program id>.json  corpus inputs (corpus/store.ts)
//   DIR/campaigns/<id>/findings/<sha12>/         finding.json, first.json, verify.json, repro.json
//                                                (worker/fuzz/findings/files.ts)

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Store, programId } from '../corpus/store.js';
import { CoverageSet } from '../worker/fuzz/coverage.js';
import { type FindingEvents, type FindingJob, FindingPipeline } from '../worker/fuzz/findings/pipeline.js';
import type { FindingRecord } from '../worker/fuzz/findings/record.js';
import type { SharedInput } from '../worker/fuzz/messages.js';
import { encodeCorpusInput } from '../worker/cluster/wire.js';
import { COV_MAP_SIZE } from '../worker/sim/cov.js';
import { validateProgram } from '../worker/prog/validate.js';
import type { Program } from '../worker/prog/types.js';
import type { BugName } from '../worker/sim/bugs.js';
import type { ConfigStats } from '../worker/twin/kernel-batch.js';
import { bugKey } from '../worker/report/signature.js';
import type { CampaignInfo, CampaignState, FindingInfo } from './api.js';

export interface CampaignRecord {
  id: string;
  name: string;
  bugs: BugName[];
  seed: number;
  state: CampaignState;
  createdAt: string;
  durationSec?: number;
  elapsedSec: number;
  execs: number;
  timeouts: number;
  harnessErrors: number;
  redelivered: number;
  /** Sequence numbers for batch and job ids. */
  batchSeq: number;
  jobSeq: number;
  /**
   * Batches out: id -> wall ms when planned. Written before the batch is
   * published; a batch result counts only while its batch is here, so one
   * delivered again, however late, counts nothing twice.
   */
  outstanding: Record<string, number>;
  /** Runs of each reported finding on a real kernel (a worker started with --kernel-confirm); unset: none. */
  kernelConfirmRuns?: number;
  /**
   * Kernel confirmation jobs out: id -> the workers it was sent to, in order
   * (confirm-dispatch.ts). Written before a job is sent; a verdict counts
   * only from one of them, and only while its job is out.
   */
  confirmSentTo?: Record<string, string[]>;
  /** A kernel campaign's configs (names validated at creation); unset: a sim campaign. */
  kernelConfigs?: string[];
  /** Kernel batches out: id -> what it is and the workers it went to (kernel-dispatch.ts). Written before it is sent. */
  kernelBatches?: Record<string, KernelBatchOut>;
  /** A kernel campaign's figures per config, summed over the batches answered. */
  kernelStats?: ConfigStats[];
}

/** A kernel batch out, as the campaign's record keeps it (kernel-dispatch.ts). */
export interface KernelBatchOut {
  seed: number;
  programs: number;
  config: string;
  /** The workers it was sent to, in order. */
  sentTo: string[];
}

/** What a campaign needs from the coordinator that runs it. */
export interface RuntimeEnv {
  /** Tags the ids this process issues (with the persisted sequence numbers, unique across restarts). */
  boot: string;
  minimizeMaxRuns?: number;
  minimizeDeadlineMs?: number;
  /** The finding pipeline's events for this campaign (jobs out, metrics, logs). */
  findingEvents(c: CampaignRuntime): FindingEvents;
  /** `execs` more executions were written to the store (the Prometheus counter follows what is durable). */
  execsPersisted(c: CampaignRuntime, execs: number): void;
}

/** The letter of a job id (`<campaign>-<letter><boot>.<seq>`). */
const JOB_ID_KIND: Record<FindingJob['kind'], string> = { verify: 'v', minimize: 'm', confirm: 'k' };

/** A worker that sent no result for this long no longer counts as serving the campaign (and is forgotten). */
const WORKER_SEEN_MS = 15_000;

export class CampaignRuntime {
  readonly store: Store;
  readonly coverage = new CoverageSet();
  readonly corpus: SharedInput[] = [];
  /** Each corpus input encoded once, for the batches that carry it. */
  private readonly encoded: (Uint8Array | undefined)[] = [];
  /** The coverage as the bitmap batches carry, kept up to date as points are added. */
  readonly coverageBits = new Uint8Array(COV_MAP_SIZE / 8);
  private readonly corpusIds = new Set<string>();
  readonly findings: FindingPipeline;
  /** (performance.now() ms, execs) samples for the execs/s window. */
  private readonly rate: [number, number][] = [];
  /** Worker id -> performance.now() ms of its last result for this campaign. */
  readonly workerSeen = new Map<string, number>();
  /** Watchers, each with the last info it was sent (as JSON), so each sees every change once. */
  readonly listeners = new Map<(info: CampaignInfo) => void, string>();
  lastNotify = 0;
  dirty = false;
  /**
   * Executions as of the last persist. The API reports this, not rec.execs:
   * results are applied in memory before they are persisted and acked, so a
   * coordinator killed in between comes back with the lower figure (the
   * unacked results are redelivered and counted again), and a user must never
   * see a counter go down across a restart.
   */
  private durableExecs: number;

  constructor(readonly dir: string, readonly rec: CampaignRecord, private readonly env: RuntimeEnv) {
    this.store = new Store(dir);
    this.durableExecs = rec.execs;
    // A kernel campaign's findings are the kernel's: replaying or minimizing them in the sim says
    // nothing of them, so they are reported as found (kernel-batcher.ts says why they are not minimized).
    const kernel = rec.kernelConfigs !== undefined;
    this.findings = new FindingPipeline({
      bugs: rec.bugs, crossCheck: kernel ? 'none' : 'another-worker', minimize: !kernel, store: this.store, idPrefix: `${rec.id}-`,
      ...(env.minimizeMaxRuns !== undefined ? { maxRuns: env.minimizeMaxRuns } : {}),
      ...(env.minimizeDeadlineMs !== undefined ? { deadlineMs: env.minimizeDeadlineMs } : {}),
      ...(rec.kernelConfirmRuns !== undefined ? { kernelConfirmRuns: rec.kernelConfirmRuns } : {}),
      newJobId: (kind) => this.newJobId(JOB_ID_KIND[kind]),
      events: env.findingEvents(this),
    });
  }

  static create(root: string, rec: CampaignRecord, env: RuntimeEnv): CampaignRuntime {
    const c = new CampaignRuntime(join(root, rec.id), rec, env);
    c.persist();
    return c;
  }

  /** Load a stored campaign; `bad` collects what could not be read. */
  static load(dir: string, bad: string[], env: RuntimeEnv): CampaignRuntime | null {
    const probe = new Store(dir);
    let rec: CampaignRecord | null;
    try {
      rec = probe.loadCampaign<CampaignRecord>();
    } catch (err) {
      bad.push(`${dir}/campaign.json: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
    if (!rec || typeof rec.id !== 'string') return null;
    rec.outstanding ??= {};
    // Written by versions that remembered the last 500 results applied; `outstanding` says it all now.
    delete (rec as { processed?: unknown }).processed;
    const c = new CampaignRuntime(dir, rec, env);
    const badInputs: string[] = [];
    for (const input of probe.loadInputs(badInputs)) {
      try {
        c.addInput(validateProgram(input.program, 'corpus'), input.points, false);
      } catch {
        badInputs.push(programId(input.program));
      }
    }
    for (const b of badInputs) bad.push(`${dir}/corpus/${b}`);
    const badFindings: string[] = [];
    c.findings.load(badFindings);
    for (const b of badFindings) bad.push(`${dir}/${b}`);
    return c;
  }

  static listDirs(root: string): string[] {
    if (!existsSync(root)) mkdirSync(root, { recursive: true });
    return readdirSync(root).filter((n) => /^[A-Za-z0-9_-]+$/.test(n)).sort().map((n) => join(root, n));
  }

  get id(): string {
    return this.rec.id;
  }

  // Ids are `<campaign>-<kind><boot>.<seq>`: the boot tag keeps them unique
  // even if the sequence was not persisted before a crash.

  /** The next batch: its sequence number (its seed and input sample follow from it) and its id. */
  nextBatch(): { seq: number; batchId: string } {
    this.dirty = true;
    const seq = ++this.rec.batchSeq;
    return { seq, batchId: `${this.id}-b${this.env.boot}.${seq}` };
  }

  private newJobId(kind: string): string {
    this.dirty = true;
    return `${this.id}-${kind}${this.env.boot}.${++this.rec.jobSeq}`;
  }

  /** Keep a corpus input when it brings coverage the campaign lacks; returns whether it was kept. */
  addInput(program: Program, points: readonly number[], save = true): boolean {
    // A stored input was new when it was kept; loading them in another order must keep them all.
    if (this.coverage.add(points) === 0 && save) return false;
    for (const p of points) this.coverageBits[p >> 3]! |= 1 << (p & 7);
    const id = programId(program);
    if (this.corpusIds.has(id)) return false;
    this.corpusIds.add(id);
    this.corpus.push({ program, points: [...points] });
    if (save) this.store.saveInput(program, points);
    return true;
  }

  /** The inputs a batch carries, encoded: the newest, and a spread of older ones. */
  sampleInputs(seq: number, newest = 16, older = 16): Uint8Array[] {
    const n = this.corpus.length;
    const picks: number[] = [];
    if (n <= newest + older) {
      for (let i = 0; i < n; i++) picks.push(i);
    } else {
      for (let i = n - newest; i < n; i++) picks.push(i);
      const span = n - newest;
      for (let i = 0; i < older; i++) picks.push((seq * 7919 + i * 104729) % span);
    }
    return picks.map((i) => (this.encoded[i] ??= encodeCorpusInput(this.corpus[i]!)));
  }

  persist(): void {
    this.store.saveCampaign(this.rec);
    const gained = this.rec.execs - this.durableExecs;
    this.durableExecs = this.rec.execs;
    this.dirty = false;
    if (gained > 0) this.env.execsPersisted(this, gained);
  }

  sampleRate(now: number): void {
    this.rate.push([now, this.rec.execs]);
    while (this.rate.length > 2 && now - this.rate[0]![0] > 10_000) this.rate.shift();
    for (const [w, t] of this.workerSeen) if (now - t > WORKER_SEEN_MS) this.workerSeen.delete(w);
  }

  execsPerSec(): number {
    if (this.rec.state !== 'running' || this.rate.length < 2) return 0;
    const [t0, e0] = this.rate[0]!;
    const [t1, e1] = this.rate[this.rate.length - 1]!;
    return t1 > t0 ? ((e1 - e0) * 1000) / (t1 - t0) : 0;
  }

  /** Findings reported: cross-checked on a second worker. */
  reportedCount(): number {
    return this.findings.reported().length;
  }

  info(now: number, connected: (workerId: string) => boolean): CampaignInfo {
    const r = this.rec;
    let workers = 0;
    for (const [w, t] of this.workerSeen) if (now - t < WORKER_SEEN_MS && connected(w)) workers++;
    return {
      id: r.id, name: r.name, bugs: [...r.bugs], state: r.state, createdAt: r.createdAt,
      ...(r.durationSec !== undefined ? { durationSec: r.durationSec } : {}),
      elapsedSec: Math.round(r.elapsedSec * 10) / 10, execs: this.durableExecs, execsPerSec: Math.round(this.execsPerSec() * 10) / 10,
      corpus: this.corpus.length, coverage: this.coverage.count, findings: this.reportedCount(), workers,
    };
  }

  findingInfo(f: FindingRecord): FindingInfo {
    return {
      id: f.id, campaignId: this.id, signature: f.signature, invariant: f.invariant, message: f.message, count: f.count,
      firstFoundSec: Math.round(f.firstSec * 1000) / 1000, firstFoundExec: f.firstExec, lastFoundSec: Math.round(f.lastSec * 1000) / 1000,
      verified: f.verified, minimized: f.minimized, opsBefore: f.opsBefore, opsAfter: f.opsAfter,
      bug: bugKey(f.signature), switches: f.switches ?? [], switchesKnown: f.switches !== undefined,
      ...(f.kernel ? { kernel: f.kernel } : {}),
    };
  }
}

// The coordinator: owns the campaigns, their corpus policy and triage, the
// cross-check and minimization of every new signature, and hands out work
// batches over NATS JetStream to however many worker processes are connected.
//
// Durability: a result is acked on the results stream only after what it
// changed is written to the store, and every result id applied is remembered
// with the counters, so a coordinator killed at any point resumes with the
// same findings and counters and never counts a result twice. Jobs it issued
// and had no answer for are issued again at start (same ids: the streams drop
// duplicates).
//
// A new signature is reported (listed, counted) only after a worker other
// than the finder replayed its program and saw the same signature; then it is
// minimized on a worker and its reproducer stored.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type JetStreamClient, type JetStreamManager, type JsMsg, type Msg, type NatsConnection, headers } from 'nats';
import type { RunViolation } from '../worker/report/violation.js';
import type { Program } from '../worker/prog/types.js';
import { validateProgram } from '../worker/prog/validate.js';
import { makeRepro, parseRepro, reproJson, type Repro } from '../worker/repro/repro.js';
import { findBug, type BugName } from '../worker/sim/bugs.js';
import { DEFAULT_MAX_RUNS, DEFAULT_MINIMIZE_DEADLINE_MS } from '../worker/fuzz/minimize.js';
import type { Logger } from '../worker/cluster/log.js';
import {
  CONSUMERS, MAX_DELIVERIES_ADVISORY, type NatsOptions, STREAMS, SUBJECTS, connectNats, ensureTopology, retrying,
} from '../worker/cluster/nats.js';
import {
  type BatchResult, type ControlRequest, type MinimizeResult, type VerifyResult, decodeBatchResult, decodeControlRequest,
  decodeHeartbeat, decodeMinimizeJob, decodeMinimizeResult, decodeVerifyJob, decodeVerifyResult, decodeWorkBatch, encodeControlReply,
  encodeMinimizeJob, encodeVerifyJob, encodeWorkBatchEncoded, type Heartbeat, WireError,
} from '../worker/cluster/wire.js';
import { ApiError, type CampaignInfo, type CoordinatorApi, type CreateCampaignRequest, type FindingInfo } from './api.js';
import { type CampaignRecord, CampaignRuntime, type FindingMeta, type FindingState, type VerifyFile } from './campaign-runtime.js';
import { CoordinatorMetrics } from './metrics.js';

export interface CoordinatorOptions {
  nats: NatsOptions;
  storeDir: string;
  log: Logger;
  /** Wall time of one work batch on a worker (default 1000 ms). */
  batchMs?: number;
  /** Batches kept queued or running per connected executor thread (default 2). */
  batchesPerProc?: number;
  /** Per-execution wall-time limit on the workers (default 2000 ms). */
  execTimeoutMs?: number;
  minimizeMaxRuns?: number;
  minimizeDeadlineMs?: number;
}

interface WorkerSeen {
  hb: Heartbeat;
  /** performance.now() ms of the last heartbeat. */
  at: number;
}

const HEARTBEAT_FRESH_MS = 5_000;
const TICK_MS = 500;
/** A batch not answered after this long is forgotten (its messages went to the dead-letter stream or were purged). */
const OUTSTANDING_FORGET_MS = 5 * 60_000;
const NAME_MAX = 100;

export class Coordinator implements CoordinatorApi {
  readonly metrics = new CoordinatorMetrics();
  private readonly campaigns = new Map<string, CampaignRuntime>();
  private readonly workers = new Map<string, WorkerSeen>();
  private nc: NatsConnection | null = null;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private connected = false;
  private loaded = false;
  /** Subscriptions and the results loop are up. */
  private started = false;
  private running = true;
  private readonly ac = new AbortController();
  private timers: NodeJS.Timeout[] = [];
  private lastTick = performance.now();
  private resultsLoopDone: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly root: string;
  /** Tags the ids this process issues (with the persisted sequence numbers, unique across restarts). */
  private readonly boot = randomBytes(3).toString('hex');
  /** Minimization jobs issued and not answered: job id -> campaign id. */
  private readonly minimizing = new Map<string, string>();

  constructor(private readonly opts: CoordinatorOptions) {
    this.log = opts.log;
    this.root = join(opts.storeDir, 'campaigns');
  }

  // ---------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    this.loadStore();
    this.nc = await connectNats(this.opts.nats);
    this.connected = true;
    void this.watchStatus(this.nc);
    this.jsm = await this.nc.jetstreamManager();
    await retrying('create streams', () => ensureTopology(this.jsm), (m) => this.log.warn(m), this.ac.signal);
    this.js = this.nc.jetstream();
    this.nc.subscribe(SUBJECTS.heartbeatAll, { callback: (err, m) => (err ? undefined : this.onHeartbeat(m)) });
    this.nc.subscribe(SUBJECTS.coordinatorControl, { callback: (err, m) => (err ? undefined : void this.onControl(m)) });
    this.nc.subscribe(MAX_DELIVERIES_ADVISORY, { callback: (err, m) => (err ? undefined : void this.onMaxDeliveries(m)) });
    this.reissuePendingJobs();
    this.resultsLoopDone = this.resultsLoop();
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    await this.nc.flush();
    this.started = true;
    this.log.info({ store: this.opts.storeDir, campaigns: this.campaigns.size }, 'coordinator started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.ac.abort();
    for (const t of this.timers) clearInterval(t);
    this.tickElapsed();
    for (const c of this.campaigns.values()) c.persist();
    await Promise.race([this.resultsLoopDone, new Promise((r) => setTimeout(r, 3000))]);
    if (this.nc) await this.nc.drain().catch(() => this.nc?.close());
    this.log.info('coordinator stopped');
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      if (s.type === 'reconnect') this.connected = true;
      if (s.type === 'disconnect' || s.type === 'reconnect') this.log.warn({ event: s.type, server: String(s.data) }, `nats ${s.type}`);
    }
  }

  private loadStore(): void {
    const bad: string[] = [];
    for (const dir of CampaignRuntime.listDirs(this.root)) {
      const c = CampaignRuntime.load(dir, bad);
      if (!c) continue;
      this.campaigns.set(c.id, c);
      const r = c.rec;
      this.metrics.execs.inc({ campaign: c.id }, r.execs);
      this.metrics.redelivered.inc(r.redelivered);
      for (const f of c.findings.values()) {
        if (f.meta.verified) this.metrics.findings.inc({ invariant: f.meta.invariant });
        if (f.meta.minimizeJob) this.minimizing.set(f.meta.minimizeJob, c.id);
      }
      this.updateGauges(c);
    }
    for (const b of bad) this.log.warn({ path: b }, 'store: skipped an unreadable entry');
    this.loaded = true;
  }

  ready(): boolean {
    return this.loaded && this.started && this.connected && this.running;
  }

  // ---------------------------------------------------------------------------
  // API

  async createCampaign(req: CreateCampaignRequest): Promise<CampaignInfo> {
    const bugs = checkBugs(req.bugs);
    if (req.durationSec !== undefined && (typeof req.durationSec !== 'number' || !Number.isFinite(req.durationSec) || req.durationSec <= 0)) {
      throw new ApiError('INVALID_ARGUMENT', `durationSec: expected a positive number of seconds, got ${String(req.durationSec)}`);
    }
    if (req.seed !== undefined && (!Number.isSafeInteger(req.seed) || req.seed < 0 || req.seed >= 2 ** 32)) {
      throw new ApiError('INVALID_ARGUMENT', `seed: expected an integer in [0, 2^32), got ${String(req.seed)}`);
    }
    if (req.name !== undefined && (typeof req.name !== 'string' || req.name.length > NAME_MAX || /[\x00-\x1f]/.test(req.name))) {
      throw new ApiError('INVALID_ARGUMENT', `name: expected at most ${NAME_MAX} printable characters`);
    }
    let id: string;
    do id = `c-${randomBytes(4).toString('hex')}`;
    while (this.campaigns.has(id));
    const rec: CampaignRecord = {
      id, name: req.name || id, bugs, seed: req.seed ?? (Date.now() % 2 ** 31), state: 'running', createdAt: new Date().toISOString(),
      ...(req.durationSec !== undefined ? { durationSec: req.durationSec } : {}),
      elapsedSec: 0, execs: 0, timeouts: 0, harnessErrors: 0, redelivered: 0, batchSeq: 0, jobSeq: 0, outstanding: {}, processed: [],
    };
    const c = CampaignRuntime.create(this.root, rec);
    this.campaigns.set(id, c);
    this.updateGauges(c);
    this.log.info({ campaign: id, bugs, durationSec: req.durationSec }, 'campaign created');
    this.topUp(c);
    return this.info(c);
  }

  listCampaigns(): CampaignInfo[] {
    return [...this.campaigns.values()].map((c) => this.info(c));
  }

  getCampaign(id: string): CampaignInfo {
    return this.info(this.campaign(id));
  }

  async stopCampaign(id: string): Promise<CampaignInfo> {
    const c = this.campaign(id);
    if (c.rec.state !== 'running') throw new ApiError('FAILED_PRECONDITION', `campaign ${id} is ${c.rec.state}, not running`);
    await this.endCampaign(c, 'stopped');
    return this.info(c);
  }

  async resumeCampaign(id: string): Promise<CampaignInfo> {
    const c = this.campaign(id);
    if (c.rec.state === 'running') throw new ApiError('FAILED_PRECONDITION', `campaign ${id} is already running`);
    if (c.rec.state === 'done') throw new ApiError('FAILED_PRECONDITION', `campaign ${id} is done (its duration is used up)`);
    c.rec.state = 'running';
    c.persist();
    this.log.info({ campaign: id }, 'campaign resumed');
    this.topUp(c);
    return this.info(c);
  }

  listFindings(campaignId: string): FindingInfo[] {
    const c = this.campaign(campaignId);
    return [...c.findings.values()].filter((f) => f.meta.verified).map((f) => c.findingInfo(f.meta))
      .sort((a, b) => a.firstFoundExec - b.firstFoundExec || a.id.localeCompare(b.id));
  }

  getRepro(findingId: string): Repro {
    const { c, f } = this.finding(findingId);
    const text = c.store.readFindingFile(f.meta.signature, 'repro.json');
    if (text === null) throw new ApiError('NOT_FOUND', `finding ${findingId} has no reproducer stored`);
    return parseRepro(text, `${findingId}/repro.json`);
  }

  watchCampaign(campaignId: string, listener: (info: CampaignInfo) => void): () => void {
    const c = this.campaign(campaignId);
    const info = this.info(c);
    c.listeners.set(listener, JSON.stringify(info));
    listener(info);
    return () => c.listeners.delete(listener);
  }

  /** Executor threads of the connected workers (recounted at most every 200 ms: topUp runs per result). */
  private connectedProcs(): number {
    const now = performance.now();
    if (now - this.procsAt > 200) {
      this.procsAt = now;
      this.procsCache = this.connectedWorkers().reduce((n, w) => n + w.procs, 0);
    }
    return this.procsCache;
  }

  private procsAt = -Infinity;
  private procsCache = 0;

  /** Workers whose heartbeat is fresh. */
  connectedWorkers(): Heartbeat[] {
    const now = performance.now();
    return [...this.workers.values()].filter((w) => now - w.at < HEARTBEAT_FRESH_MS).map((w) => w.hb);
  }

  private campaign(id: string): CampaignRuntime {
    const c = typeof id === 'string' ? this.campaigns.get(id) : undefined;
    if (!c) throw new ApiError('NOT_FOUND', `no campaign ${JSON.stringify(id)}`);
    return c;
  }

  private finding(findingId: string): { c: CampaignRuntime; f: FindingState } {
    const m = typeof findingId === 'string' ? /^(c-[0-9a-f]{8})-([0-9a-f]{12})$/.exec(findingId) : null;
    if (!m) throw new ApiError('NOT_FOUND', `no finding ${JSON.stringify(findingId)} (ids look like c-1a2b3c4d-0123456789ab)`);
    const c = this.campaigns.get(m[1]!);
    const f = c ? [...c.findings.values()].find((x) => x.meta.id === findingId) : undefined;
    if (!c || !f || !f.meta.verified) throw new ApiError('NOT_FOUND', `no finding ${findingId}`);
    return { c, f };
  }

  private isConnected = (workerId: string): boolean => {
    const w = this.workers.get(workerId);
    return w !== undefined && performance.now() - w.at < HEARTBEAT_FRESH_MS;
  };

  private info(c: CampaignRuntime): CampaignInfo {
    return c.info(performance.now(), this.isConnected);
  }

  // ---------------------------------------------------------------------------
  // Periodic work: elapsed time, durations, batches to keep workers busy, watchers, gauges.

  private tickElapsed(): void {
    const now = performance.now();
    const dt = (now - this.lastTick) / 1000;
    this.lastTick = now;
    for (const c of this.campaigns.values()) {
      if (c.rec.state !== 'running') continue;
      c.rec.elapsedSec += dt;
      c.dirty = true;
    }
  }

  private tick(): void {
    this.tickElapsed();
    const now = performance.now();
    this.metrics.workers.set(this.connectedWorkers().length);
    for (const c of this.campaigns.values()) {
      c.sampleRate(now);
      if (c.rec.state === 'running' && c.rec.durationSec !== undefined && c.rec.elapsedSec >= c.rec.durationSec) {
        void this.endCampaign(c, 'done');
      }
      if (c.rec.state === 'running') {
        this.forgetStale(c);
        this.topUp(c);
      }
      if (c.dirty) c.persist();
      this.updateGauges(c);
      this.notify(c);
    }
  }

  private notify(c: CampaignRuntime): void {
    if (c.listeners.size === 0) return;
    const now = performance.now();
    if (now - c.lastNotify < 950) return;
    c.lastNotify = now;
    const info = this.info(c);
    const text = JSON.stringify(info);
    // Per watcher: a campaign stopped, resumed and stopped again with nothing
    // done in between looks the same as before, yet a new watcher has not seen it.
    for (const [l, last] of c.listeners) {
      if (last === text) continue;
      c.listeners.set(l, text);
      try {
        l(info);
      } catch (err) {
        this.log.warn({ campaign: c.id, err: String(err) }, 'watch listener failed');
      }
    }
  }

  private updateGauges(c: CampaignRuntime): void {
    this.metrics.corpus.set({ campaign: c.id }, c.corpus.length);
    this.metrics.coverage.set({ campaign: c.id }, c.coverage.count);
    this.metrics.unique.set({ campaign: c.id }, c.verifiedCount());
    this.metrics.minimizeQueue.set(this.minimizing.size);
  }

  private async endCampaign(c: CampaignRuntime, state: 'stopped' | 'done'): Promise<void> {
    if (c.rec.state !== 'running') return;
    c.rec.state = state;
    c.rec.outstanding = {};
    c.persist();
    this.log.info({ campaign: c.id, state, execs: c.rec.execs, findings: c.verifiedCount() }, `campaign ${state}`);
    // Batches still queued would only burn worker time.
    try {
      await this.jsm.streams.purge(STREAMS.work, { filter: SUBJECTS.batch(c.id) });
    } catch (err) {
      this.log.warn({ campaign: c.id, err: String(err) }, 'could not purge queued batches');
    }
  }

  private forgetStale(c: CampaignRuntime): void {
    const wall = Date.now();
    for (const [id, at] of Object.entries(c.rec.outstanding)) {
      if (wall - at > OUTSTANDING_FORGET_MS) {
        delete c.rec.outstanding[id];
        c.dirty = true;
        this.log.warn({ campaign: c.id, batch: id }, 'batch unanswered for too long; forgotten');
      }
    }
  }

  /** Keep about batchesPerProc batches per connected executor thread queued or running, shared by the running campaigns. */
  private topUp(c: CampaignRuntime): void {
    if (!this.nc || !this.running) return;
    const procs = this.connectedProcs();
    let running = 0;
    for (const x of this.campaigns.values()) if (x.rec.state === 'running') running++;
    const target = Math.max(1, Math.ceil((Math.max(1, procs) * (this.opts.batchesPerProc ?? 2)) / Math.max(1, running)));
    const wall = Date.now();
    let out = Object.keys(c.rec.outstanding).length;
    while (out < target) {
      const seq = ++c.rec.batchSeq;
      // The boot tag keeps ids unique even if the sequence was not persisted before a crash.
      const batchId = `${c.id}-b${this.boot}.${seq}`;
      c.rec.outstanding[batchId] = wall;
      const data = encodeWorkBatchEncoded({
        campaignId: c.id, batchId, bugs: c.rec.bugs, seed: (c.rec.seed + seq * 0x9e3779b1) >>> 0, execMs: this.opts.batchMs ?? 1000,
        maxExecs: 0, feedback: true, coverage: c.coverageBits, timeoutMs: this.opts.execTimeoutMs ?? 2000,
      }, c.sampleInputs(seq));
      out++;
      c.dirty = true;
      this.publish(SUBJECTS.batch(c.id), data, batchId);
    }
  }

  /** Publish to a stream, retrying while NATS is away; msgID dedups a repeat. */
  private publish(subject: string, data: Uint8Array, msgID: string): void {
    void retrying(`publish ${subject}`, () => this.js.publish(subject, data, { msgID, timeout: 5000 }), (m) => this.log.warn(m), this.ac.signal)
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------------------
  // Results: applied, persisted, then acked.

  private async resultsLoop(): Promise<void> {
    const consumer = await retrying('results consumer', () => this.js.consumers.get(STREAMS.results, CONSUMERS.coordinator), (m) => this.log.warn(m), this.ac.signal)
      .catch(() => null);
    while (this.running && consumer) {
      const handled: JsMsg[] = [];
      try {
        const iter = await consumer.fetch({ max_messages: 256, expires: 1000 });
        for await (const m of iter) {
          if (this.applyResult(m)) handled.push(m);
          else m.nak(5000);
        }
      } catch (err) {
        if (this.running) {
          this.log.debug({ err: String(err) }, 'fetching results failed');
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (handled.length === 0) continue;
      for (const c of this.campaigns.values()) if (c.dirty) c.persist();
      for (const m of handled) m.ack();
    }
  }

  /** Apply one result; false when it could not be applied now (it is handed back for later). */
  private applyResult(m: JsMsg): boolean {
    let apply: () => void;
    try {
      switch (m.subject) {
        case SUBJECTS.batchResult: {
          const r = decodeBatchResult(m.data, m.subject);
          apply = () => this.onBatchResult(r);
          break;
        }
        case SUBJECTS.verifyResult: {
          const r = decodeVerifyResult(m.data, m.subject);
          apply = () => this.onVerifyResult(r);
          break;
        }
        case SUBJECTS.minimizeResult: {
          const r = decodeMinimizeResult(m.data, m.subject);
          apply = () => this.onMinimizeResult(r);
          break;
        }
        default:
          throw new WireError(`${m.subject}: not a result subject`);
      }
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.refused(m.subject, why);
      const h = headers();
      h.set('Ff-Subject', m.subject);
      h.set('Ff-Error', why.slice(0, 1000));
      void this.js.publish(SUBJECTS.dead('result'), m.data, { headers: h }).catch(() => undefined);
      return true;
    }
    try {
      apply();
      return true;
    } catch (err) {
      // Not the payload's fault (the store failed, say): try again later rather than lose it.
      this.log.error({ subject: m.subject, err: err instanceof Error ? err.stack ?? err.message : String(err) }, 'could not apply a result; retrying it later');
      return false;
    }
  }

  private refused(subject: string, why: string): void {
    this.metrics.refused.inc({ subject: subject.split('.').slice(0, 3).join('.') });
    this.log.warn({ subject, error: why }, 'refused a malformed payload');
  }

  private knownCampaign(id: string, what: string): CampaignRuntime | null {
    const c = this.campaigns.get(id);
    if (!c) this.log.warn({ campaign: id }, `${what} for an unknown campaign; dropped`);
    return c ?? null;
  }

  private onBatchResult(r: BatchResult): void {
    const c = this.knownCampaign(r.campaignId, 'batch result');
    if (!c || c.wasProcessed(r.batchId)) return;
    c.markProcessed(r.batchId);
    delete c.rec.outstanding[r.batchId];
    const base = c.rec.execs;
    c.rec.execs += r.execs;
    c.rec.timeouts += r.timeouts;
    c.workerSeen.set(r.workerId, performance.now());
    this.metrics.execs.inc({ campaign: c.id }, r.execs);
    this.metrics.batchSeconds.observe(r.ms / 1000);
    if (r.delivery > 1) {
      c.rec.redelivered++;
      this.metrics.redelivered.inc();
    }
    for (const h of r.harness) {
      c.rec.harnessErrors++;
      this.log.error({ campaign: c.id, worker: r.workerId, error: h.error.split('\n')[0] }, 'harness error (a simulator bug, not a kernel finding)');
    }
    for (const input of r.newInputs) c.addInput(input.program, input.points);
    for (const f of r.findings) this.onFinding(c, f.violation, f.program, r.workerId, base + f.at, f.repeats);
    if (c.rec.state === 'running') this.topUp(c);
    this.updateGauges(c);
  }

  /** `repeats`: further hits of the signature in the same batch, counted without their programs. */
  private onFinding(c: CampaignRuntime, v: RunViolation, program: Program, workerId: string, exec: number, repeats = 0): void {
    const seen = c.findings.get(v.signature);
    if (seen) {
      seen.meta.count += 1 + repeats;
      seen.meta.lastExec = exec;
      seen.meta.lastSec = c.rec.elapsedSec;
      // A cross-check that failed before gets another go with this program.
      if (!seen.meta.verified && !seen.meta.verifyJob) this.issueVerify(c, seen, program, workerId);
      else c.saveFinding(seen);
      return;
    }
    const st: FindingState = { meta: c.newFindingMeta(v.signature, v.invariant, v.kind, v.message, program, exec, workerId), firstProgram: program };
    st.meta.count += repeats;
    c.findings.set(v.signature, st);
    c.store.saveRepro(v.signature, reproJson(makeRepro(program, c.rec.bugs, v, { foundAt: { exec, sec: Math.round(c.rec.elapsedSec) } })));
    this.log.info({ campaign: c.id, worker: workerId, signature: v.signature }, 'new signature; cross-checking it on another worker');
    this.issueVerify(c, st, program, workerId);
  }

  private issueVerify(c: CampaignRuntime, st: FindingState, program: Program, finderWorkerId: string): void {
    const jobId = `${c.id}-v${this.boot}.${++c.rec.jobSeq}`;
    st.meta.verifyJob = jobId;
    st.meta.finderWorkerId = finderWorkerId;
    const file: VerifyFile = { program, finderWorkerId };
    c.store.saveFindingFile(st.meta.signature, 'verify.json', file);
    c.saveFinding(st);
    c.dirty = true;
    this.publishVerify(c, st.meta, file);
  }

  private publishVerify(c: CampaignRuntime, meta: FindingMeta, file: VerifyFile): void {
    this.publish(SUBJECTS.verifyJob, encodeVerifyJob({
      jobId: meta.verifyJob!, campaignId: c.id, signature: meta.signature, bugs: c.rec.bugs, program: file.program, finderWorkerId: file.finderWorkerId,
    }), meta.verifyJob!);
  }

  private onVerifyResult(r: VerifyResult): void {
    const c = this.knownCampaign(r.campaignId, 'verify result');
    const st = c?.findings.get(r.signature);
    if (!c || !st || st.meta.verifyJob !== r.jobId || c.wasProcessed(r.jobId)) return;
    c.markProcessed(r.jobId);
    const meta = st.meta;
    delete meta.verifyJob;
    meta.verifyAttempts++;
    if (!r.reproduced || r.workerId === meta.finderWorkerId) {
      this.log.warn({ campaign: c.id, worker: r.workerId, signature: r.signature, observed: r.observed || '(silent)' },
        'a finding did not reproduce on another worker; not reported (it is checked again when found again)');
      c.saveFinding(st);
      return;
    }
    meta.verified = true;
    meta.verifiedBy = r.workerId;
    const program = this.verifyFile(c, st).program;
    c.store.saveRepro(meta.signature, reproJson(makeRepro(program, c.rec.bugs, violationOf(meta), {
      foundAt: { exec: meta.firstExec, sec: Math.round(meta.firstSec) },
    })));
    this.metrics.findings.inc({ invariant: meta.invariant });
    this.updateGauges(c);
    this.log.info({ campaign: c.id, finding: meta.id, signature: meta.signature, finder: meta.finderWorkerId, verifier: r.workerId },
      'finding cross-checked and reported; minimizing it');
    this.issueMinimize(c, st, program);
  }

  private issueMinimize(c: CampaignRuntime, st: FindingState, program: Program): void {
    const jobId = `${c.id}-m${this.boot}.${++c.rec.jobSeq}`;
    st.meta.minimizeJob = jobId;
    c.saveFinding(st);
    c.dirty = true;
    this.minimizing.set(jobId, c.id);
    this.metrics.minimizeQueue.set(this.minimizing.size);
    this.publishMinimize(c, st.meta, program);
  }

  private publishMinimize(c: CampaignRuntime, meta: FindingMeta, program: Program): void {
    this.publish(SUBJECTS.minimizeJob, encodeMinimizeJob({
      jobId: meta.minimizeJob!, campaignId: c.id, signature: meta.signature, bugs: c.rec.bugs, program,
      maxRuns: this.opts.minimizeMaxRuns ?? DEFAULT_MAX_RUNS, deadlineMs: this.opts.minimizeDeadlineMs ?? DEFAULT_MINIMIZE_DEADLINE_MS,
    }), meta.minimizeJob!);
  }

  private onMinimizeResult(r: MinimizeResult): void {
    const c = this.knownCampaign(r.campaignId, 'minimize result');
    const st = c?.findings.get(r.signature);
    if (!c || !st || st.meta.minimizeJob !== r.jobId || c.wasProcessed(r.jobId)) return;
    c.markProcessed(r.jobId);
    const meta = st.meta;
    delete meta.minimizeJob;
    this.minimizing.delete(r.jobId);
    this.metrics.minimizeSeconds.observe(r.ms / 1000);
    if (r.program) {
      meta.minimized = true;
      meta.opsBefore = r.opsBefore;
      meta.opsAfter = r.opsAfter;
      c.store.saveRepro(meta.signature, reproJson(makeRepro(r.program, c.rec.bugs, violationOf(meta), {
        minimized: { opsBefore: r.opsBefore, opsAfter: r.opsAfter }, foundAt: { exec: meta.firstExec, sec: Math.round(meta.firstSec) },
      })));
      this.log.info({ campaign: c.id, finding: meta.id, opsBefore: r.opsBefore, opsAfter: r.opsAfter, ms: Math.round(r.ms) }, 'finding minimized');
    } else {
      meta.minimizeError = r.error || 'minimization failed';
      this.log.warn({ campaign: c.id, finding: meta.id, error: meta.minimizeError }, 'minimization failed; the reproducer stays the cross-checked program');
    }
    c.saveFinding(st);
    for (const f of r.slipped) this.onFinding(c, f.violation, f.program, r.workerId, c.rec.execs);
  }

  /** The program being (or last) cross-checked; the first program when verify.json is missing or unreadable. */
  private verifyFile(c: CampaignRuntime, st: FindingState): VerifyFile {
    const fallback: VerifyFile = { program: st.firstProgram, finderWorkerId: st.meta.finderWorkerId };
    const text = c.store.readFindingFile(st.meta.signature, 'verify.json');
    if (text === null) return fallback;
    try {
      const v = JSON.parse(text) as { program?: unknown; finderWorkerId?: unknown };
      return { program: validateProgram(v.program, 'verify.json'), finderWorkerId: typeof v.finderWorkerId === 'string' ? v.finderWorkerId : fallback.finderWorkerId };
    } catch (err) {
      this.log.warn({ campaign: c.id, finding: st.meta.id, err: String(err) }, 'verify.json unreadable; using the first program');
      return fallback;
    }
  }

  /** At start: jobs issued before a restart and never answered go out again (same ids). */
  private reissuePendingJobs(): void {
    for (const c of this.campaigns.values()) {
      for (const st of c.findings.values()) {
        if (st.meta.verifyJob) this.publishVerify(c, st.meta, this.verifyFile(c, st));
        if (st.meta.minimizeJob) this.publishMinimize(c, st.meta, this.verifyFile(c, st).program);
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Heartbeats, dead letters, control

  private onHeartbeat(m: Msg): void {
    try {
      const hb = decodeHeartbeat(m.data, m.subject);
      if (m.subject !== SUBJECTS.heartbeat(hb.workerId)) throw new Error(`${m.subject}: heartbeat of ${hb.workerId} on another worker's subject`);
      if (!this.workers.has(hb.workerId)) this.log.info({ worker: hb.workerId, procs: hb.procs, host: hb.host }, 'worker connected');
      this.workers.set(hb.workerId, { hb, at: performance.now() });
    } catch (err) {
      this.refused(m.subject, err instanceof Error ? err.message : String(err));
    }
  }

  /** A message delivered max_deliver times: move it to the dead-letter stream. */
  private async onMaxDeliveries(m: Msg): Promise<void> {
    let adv: { stream?: unknown; consumer?: unknown; stream_seq?: unknown; deliveries?: unknown };
    try {
      adv = JSON.parse(new TextDecoder().decode(m.data)) as typeof adv;
    } catch (err) {
      this.refused(m.subject, `advisory is not JSON: ${String(err)}`);
      return;
    }
    const stream = adv.stream;
    const seq = adv.stream_seq;
    if ((stream !== STREAMS.work && stream !== STREAMS.jobs) || typeof seq !== 'number') return;
    try {
      const sm = await this.jsm.streams.getMessage(stream, { seq });
      const h = headers();
      h.set('Ff-Subject', sm.subject);
      h.set('Ff-Deliveries', String(adv.deliveries));
      await this.js.publish(SUBJECTS.dead(stream === STREAMS.work ? 'batch' : 'job'), sm.data, { headers: h });
      await this.jsm.streams.deleteMessage(stream, seq, false);
      this.metrics.deadLettered.inc({ stream });
      this.log.warn({ stream, seq, subject: sm.subject, deliveries: adv.deliveries }, 'message delivered too often; moved to the dead-letter stream');
      this.forgetDeadWork(sm.subject, sm.data);
    } catch (err) {
      this.log.warn({ stream, seq, err: String(err) }, 'could not dead-letter a message');
    }
  }

  /** Work that went to the dead-letter stream is no longer out: free its slot, let its finding be checked again later. */
  private forgetDeadWork(subject: string, data: Uint8Array): void {
    try {
      if (subject.startsWith('ff.work.batch.')) {
        const b = decodeWorkBatch(data, subject);
        const c = this.campaigns.get(b.campaignId);
        if (c) delete c.rec.outstanding[b.batchId];
      } else if (subject === SUBJECTS.verifyJob) {
        const j = decodeVerifyJob(data, subject);
        const c = this.campaigns.get(j.campaignId);
        const st = c?.findings.get(j.signature);
        // Re-verified when the signature is found again (by then, maybe with another worker around).
        if (c && st && st.meta.verifyJob === j.jobId) {
          delete st.meta.verifyJob;
          c.saveFinding(st);
        }
      } else if (subject === SUBJECTS.minimizeJob) {
        const j = decodeMinimizeJob(data, subject);
        const c = this.campaigns.get(j.campaignId);
        const st = c?.findings.get(j.signature);
        if (c && st && st.meta.minimizeJob === j.jobId) {
          delete st.meta.minimizeJob;
          st.meta.minimizeError = 'the minimization job was delivered too often without an answer';
          this.minimizing.delete(j.jobId);
          c.saveFinding(st);
        }
      }
    } catch {
      // A malformed message was refused (and logged) by the worker that pulled it.
    }
  }

  private async onControl(m: Msg): Promise<void> {
    let reply: { ok: boolean; error: string; result: unknown };
    try {
      const req = decodeControlRequest(m.data, m.subject);
      reply = { ok: true, error: '', result: await this.control(req) };
    } catch (err) {
      const code = err instanceof ApiError ? `${err.code}: ` : '';
      reply = { ok: false, error: code + (err instanceof Error ? err.message : String(err)), result: undefined };
      if (!(err instanceof ApiError)) this.refused(m.subject, reply.error);
    }
    if (m.reply) m.respond(encodeControlReply(reply));
  }

  /** The control ops (request/reply on ff.ctl.coordinator): the API over NATS, for scripts and tests. */
  private async control(req: ControlRequest): Promise<unknown> {
    const a = req.args;
    const str = (k: string): string => {
      const v = a[k];
      if (typeof v !== 'string') throw new ApiError('INVALID_ARGUMENT', `${req.op}: ${k}: expected a string`);
      return v;
    };
    switch (req.op) {
      case 'ping': return { ready: this.ready(), workers: this.connectedWorkers().length, campaigns: this.campaigns.size };
      case 'workers': return this.connectedWorkers();
      case 'create': {
        if (a['bugs'] !== undefined && !Array.isArray(a['bugs'])) throw new ApiError('INVALID_ARGUMENT', 'create: bugs: expected a list of switch names');
        return this.createCampaign({
          bugs: (a['bugs'] ?? []) as BugName[],
          ...(a['name'] !== undefined ? { name: a['name'] as string } : {}),
          ...(a['durationSec'] !== undefined ? { durationSec: a['durationSec'] as number } : {}),
          ...(a['seed'] !== undefined ? { seed: a['seed'] as number } : {}),
        });
      }
      case 'list': return this.listCampaigns();
      case 'show': return this.getCampaign(str('id'));
      case 'stop': return this.stopCampaign(str('id'));
      case 'resume': return this.resumeCampaign(str('id'));
      case 'findings': return this.listFindings(str('campaignId'));
      case 'repro': return this.getRepro(str('findingId'));
      default:
        throw new ApiError('INVALID_ARGUMENT', `unknown op '${req.op}' (ping, workers, create, list, show, stop, resume, findings, repro)`);
    }
  }
}

function checkBugs(bugs: unknown): BugName[] {
  if (!Array.isArray(bugs)) throw new ApiError('INVALID_ARGUMENT', 'bugs: expected a list of bug switch names');
  const out = new Set<BugName>();
  for (const b of bugs) {
    const bug = typeof b === 'string' ? findBug(b) : undefined;
    if (!bug) throw new ApiError('INVALID_ARGUMENT', `bugs: unknown switch ${JSON.stringify(b)} (see: foliofuzz bugs)`);
    if (!bug.implemented) throw new ApiError('INVALID_ARGUMENT', `bugs: switch '${bug.name}' is not implemented in this build`);
    out.add(bug.name);
  }
  return [...out].sort();
}

function violationOf(m: FindingMeta): RunViolation {
  return { signature: m.signature, invariant: m.invariant, kind: m.kind, message: m.message, stacks: [], traceTail: [], step: 0 };
}



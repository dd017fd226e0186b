// The coordinator: owns the campaigns and answers the API (api.ts). It puts
// the pieces together, each in its own file:
//
//   nats-transport.ts    NATS: heartbeats, results in, batches and jobs out, dead letters
//   schedule.ts          elapsed time, durations, the batches that keep workers busy
//   work-sweep.ts        the work queue's upkeep: leftovers, stuck and lost batches
//   results.ts           worker results applied to a campaign, each once
//   findings.ts          the finding pipeline's events (worker/fuzz/findings/) as jobs, metrics, logs
//   confirm-dispatch.ts  kernel confirmation jobs, to workers started with --kernel-confirm only
//   kernel-dispatch.ts   kernel campaigns' batches, to workers started with --kernel only
//   campaign-runtime.ts  one campaign's state and store
//
// Durability: a batch is written down as out before it is published, a
// result is acked only after what it changed is written to the store, and a
// batch result counts only while its batch is out, so a coordinator killed
// at any point resumes with the same findings and counters and never counts
// a result twice. Jobs it had issued and had no answer for are issued again
// at start (same ids: the streams drop duplicates). The Prometheus execution
// counter follows what is written down, so it never goes back after a crash.
//
// A new signature is reported (listed, counted) only after a worker other
// than the finder replayed its program and saw the same signature; then it is
// minimized on a worker and its reproducer stored; then, when its campaign
// asks for it, run on the real kernel of a worker started with --kernel-confirm.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../worker/cluster/log.js';
import type { NatsOptions } from '../worker/cluster/nats.js';
import type { Heartbeat } from '../worker/cluster/wire.js';
import { parseRepro, type Repro } from '../worker/repro/repro.js';
import type { Finding } from '../worker/fuzz/findings/record.js';
import { ApiError, type CampaignInfo, type CoordinatorApi, type CreateCampaignRequest, type FindingInfo } from './api.js';
import { type CampaignRecord, CampaignRuntime, type RuntimeEnv } from './campaign-runtime.js';
import { ConfirmDispatch, kernelConfirmInfo } from './confirm-dispatch.js';
import { KernelDispatch, configFigures, kernelCampaignInfo, kernelStatsOf } from './kernel-dispatch.js';
import { type ClusterJob, clusterFindingEvents, clusterJob } from './findings.js';
import { CoordinatorMetrics } from './metrics.js';
import { CoordinatorTransport } from './nats-transport.js';
import { type DeadWork, type ResultVerdict, type ResultsEnv, type WorkerResult, applyResult, forgetBatch, forgetDeadWork } from './results.js';
import { type PlannedBatch, type ScheduleOptions, advanceElapsed, batchTarget, batchWallMs, durationUsedUp, topUpBatches } from './schedule.js';
import { type AbsentBatches, planSweep } from './work-sweep.js';
import { WorkerTable } from './workers.js';

export interface CoordinatorOptions extends ScheduleOptions {
  nats: NatsOptions;
  storeDir: string;
  log: Logger;
  minimizeMaxRuns?: number;
  minimizeDeadlineMs?: number;
  /** Programs in one kernel campaign batch (kernel-dispatch.ts). */
  kernelBatchPrograms?: number;
}

const TICK_MS = 500;
/** Watchers hear of a campaign at most about once a second. */
const NOTIFY_MS = 950;
/** How often the work queue is looked at (work-sweep.ts): ten batches' time, within these bounds. */
const SWEEP_MIN_MS = 5_000;
const SWEEP_MAX_MS = 60_000;
/** A batch out this long (or three batches' wall time, if more) may be stuck in the queue. */
const STUCK_MIN_MS = 5 * 60_000;

export class Coordinator implements CoordinatorApi {
  readonly metrics = new CoordinatorMetrics();
  private readonly campaigns = new Map<string, CampaignRuntime>();
  private readonly workers = new WorkerTable();
  private readonly confirms: ConfirmDispatch;
  private readonly kernelBatches: KernelDispatch;
  private readonly transport: CoordinatorTransport;
  private readonly env: RuntimeEnv;
  private loaded = false;
  /** Subscriptions and the results loop are up. */
  private started = false;
  private running = true;
  private timers: NodeJS.Timeout[] = [];
  private lastTick = performance.now();
  /** Batches planned (written down as out once the store is written) and not yet published. */
  private planned: PlannedBatch[] = [];
  private publishScheduled = false;
  private readonly absent: AbsentBatches = new Map();
  private sweeping = false;
  private readonly resultsEnv: ResultsEnv;
  private readonly log: Logger;
  private readonly root: string;

  constructor(private readonly opts: CoordinatorOptions) {
    this.log = opts.log;
    this.root = join(opts.storeDir, 'campaigns');
    this.transport = new CoordinatorTransport({
      nats: opts.nats, log: opts.log, metrics: this.metrics,
      handlers: {
        heartbeat: (hb) => this.onHeartbeat(hb),
        result: (r) => this.onResult(r),
        persist: () => this.persistDirty(),
        dead: (w) => this.onDeadWork(w),
      },
    });
    this.confirms = new ConfirmDispatch(this.campaigns, this.workers, this.log);
    this.kernelBatches = new KernelDispatch(this.campaigns, this.workers, this.log, opts.kernelBatchPrograms);
    const glue = {
      metrics: this.metrics, log: this.log, publishJob: (j: ClusterJob) => this.publishJob(j),
      connectedWorkers: () => this.workers.connected().map((hb) => hb.workerId),
    };
    this.env = {
      // Tags the ids this process issues (with the persisted sequence numbers, unique across restarts).
      boot: randomBytes(3).toString('hex'),
      ...(opts.minimizeMaxRuns !== undefined ? { minimizeMaxRuns: opts.minimizeMaxRuns } : {}),
      ...(opts.minimizeDeadlineMs !== undefined ? { minimizeDeadlineMs: opts.minimizeDeadlineMs } : {}),
      findingEvents: (c) => clusterFindingEvents(c, glue),
      execsPersisted: (c, execs) => this.metrics.execs.inc({ campaign: c.id }, execs),
    };
    this.resultsEnv = { metrics: this.metrics, log: this.log, batchWallMs: batchWallMs(opts) };
  }

  // ---------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    this.loadStore();
    await this.transport.start();
    this.reissuePendingJobs();
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    const sweepMs = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, 10 * (this.opts.batchMs ?? 1000)));
    this.timers.push(setInterval(() => void this.sweep(), sweepMs));
    this.started = true;
    this.log.info({ store: this.opts.storeDir, campaigns: this.campaigns.size }, 'coordinator started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.tickElapsed();
    for (const c of this.campaigns.values()) c.persist();
    await this.transport.stop();
    this.log.info('coordinator stopped');
  }

  private loadStore(): void {
    const bad: string[] = [];
    for (const dir of CampaignRuntime.listDirs(this.root)) {
      const c = CampaignRuntime.load(dir, bad, this.env);
      if (!c) continue;
      this.campaigns.set(c.id, c);
      this.metrics.execs.inc({ campaign: c.id }, c.rec.execs);
      this.metrics.redelivered.inc(c.rec.redelivered);
      for (const f of c.findings.reported()) {
        this.metrics.findings.inc({ kind: f.record.kind });
        if (f.record.kernel) this.metrics.kernelVerdicts.inc({ verdict: f.record.kernel.verdict });
      }
      this.updateGauges(c);
    }
    for (const b of bad) this.log.warn({ path: b }, 'store: skipped an unreadable entry');
    this.loaded = true;
  }

  /** At start: jobs issued before a restart and never answered go out again (same ids). */
  private reissuePendingJobs(): void {
    for (const c of this.campaigns.values()) {
      for (const job of c.findings.pendingJobs()) this.publishJob(clusterJob(c, job));
    }
  }

  /** Verify and minimize jobs to the shared queue; kernel confirmations to the dispatch (sent on the next tick). */
  private publishJob(j: ClusterJob): void {
    if (j.kind === 'confirm') this.confirms.add(j.job);
    else this.transport.publishJob(j);
  }

  /** The worker processes heard from in the last few seconds (the dashboard's workers page). */
  connectedWorkers(): Heartbeat[] {
    return this.workers.connected();
  }

  ready(): boolean {
    return this.loaded && this.started && this.transport.connected && this.running;
  }

  // ---------------------------------------------------------------------------
  // API

  /** `req` was validated by the API's front end (grpc-validate.ts). */
  async createCampaign(req: CreateCampaignRequest): Promise<CampaignInfo> {
    let id: string;
    do id = `c-${randomBytes(4).toString('hex')}`;
    while (this.campaigns.has(id));
    const rec: CampaignRecord = {
      id, name: req.name || id, bugs: [...req.bugs], seed: req.seed ?? (Date.now() % 2 ** 31), state: 'running', createdAt: new Date().toISOString(),
      ...(req.durationSec !== undefined ? { durationSec: req.durationSec } : {}),
      ...(req.kernelConfirmRuns !== undefined ? { kernelConfirmRuns: req.kernelConfirmRuns } : {}),
      ...(req.kernelConfigs !== undefined ? { kernelConfigs: [...req.kernelConfigs], kernelBatches: {}, kernelStats: [] } : {}),
      elapsedSec: 0, execs: 0, timeouts: 0, harnessErrors: 0, redelivered: 0, batchSeq: 0, jobSeq: 0, outstanding: {},
    };
    const c = CampaignRuntime.create(this.root, rec, this.env);
    this.campaigns.set(id, c);
    this.updateGauges(c);
    this.log.info({ campaign: id, bugs: rec.bugs, durationSec: req.durationSec, kernelConfirmRuns: req.kernelConfirmRuns, kernelConfigs: req.kernelConfigs }, 'campaign created');
    this.topUp(c);
    this.persistAndPublish();
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
    this.persistAndPublish();
    return this.info(c);
  }

  listFindings(campaignId: string): FindingInfo[] {
    const c = this.campaign(campaignId);
    return c.findings.reported().map((f) => c.findingInfo(f.record))
      .sort((a, b) => a.firstFoundExec - b.firstFoundExec || a.id.localeCompare(b.id));
  }

  getRepro(findingId: string): Repro {
    const { c, f } = this.finding(findingId);
    const text = c.store.readRepro(f.record.signature);
    if (text === null) throw new ApiError('NOT_FOUND', `finding ${findingId} has no reproducer stored`);
    const r = parseRepro(text, `${findingId}/repro.json`);
    // What a real kernel said of it goes with its exports (a bug report quotes it).
    if (f.record.kernel) r.kernel = f.record.kernel;
    return r;
  }

  watchCampaign(campaignId: string, listener: (info: CampaignInfo) => void): () => void {
    const c = this.campaign(campaignId);
    const info = this.info(c);
    c.listeners.set(listener, JSON.stringify(info));
    listener(info);
    return () => c.listeners.delete(listener);
  }

  private campaign(id: string): CampaignRuntime {
    const c = typeof id === 'string' ? this.campaigns.get(id) : undefined;
    if (!c) throw new ApiError('NOT_FOUND', `no campaign ${JSON.stringify(id)}`);
    return c;
  }

  private finding(findingId: string): { c: CampaignRuntime; f: Finding } {
    const m = typeof findingId === 'string' ? /^(c-[0-9a-f]{8})-([0-9a-f]{12})$/.exec(findingId) : null;
    if (!m) throw new ApiError('NOT_FOUND', `no finding ${JSON.stringify(findingId)} (ids look like c-1a2b3c4d-0123456789ab)`);
    const c = this.campaigns.get(m[1]!);
    const f = c?.findings.reported().find((x) => x.record.id === findingId);
    if (!c || !f) throw new ApiError('NOT_FOUND', `no finding ${findingId}`);
    return { c, f };
  }

  private info(c: CampaignRuntime): CampaignInfo {
    const now = performance.now();
    const kernelConfirm = kernelConfirmInfo(c, this.workers.kernelConfirmers(now).length);
    const kernel = kernelCampaignInfo(c, this.workers.kernelCampaigners(now).length);
    return { ...c.info(now, (w) => this.workers.isConnected(w)), ...(kernelConfirm ? { kernelConfirm } : {}), ...(kernel ? { kernel } : {}) };
  }

  // ---------------------------------------------------------------------------
  // Periodic work: elapsed time, durations, batches to keep workers busy, watchers, gauges.

  private tickElapsed(): void {
    const now = performance.now();
    advanceElapsed(this.campaigns.values(), (now - this.lastTick) / 1000);
    this.lastTick = now;
  }

  private tick(): void {
    this.tickElapsed();
    const now = performance.now();
    this.workers.prune(now);
    this.metrics.workers.set(this.workers.connected(now).length);
    for (const c of this.campaigns.values()) {
      c.sampleRate(now);
      if (durationUsedUp(c)) void this.endCampaign(c, 'done');
      if (c.rec.state === 'running') this.topUp(c);
      this.updateGauges(c);
      this.notify(c, now);
    }
    const sends = this.confirms.plan(now);
    const kernelSends = this.running ? this.kernelBatches.plan(now) : [];
    this.persistAndPublish();
    // Written down first: a verdict or a batch result counts only from a worker the store says it went to.
    for (const s of sends) this.transport.sendConfirmJob(s.workerId, s.job);
    for (const s of kernelSends) this.transport.sendKernelBatch(s.workerId, s.batch);
  }

  /** Look at the work queue and act on what work-sweep.ts makes of it. */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.transport.connected) return;
    this.sweeping = true;
    try {
      const snap = await this.transport.workSnapshot();
      const stuckMs = Math.max(STUCK_MIN_MS, 3 * batchWallMs(this.opts));
      const plan = planSweep(snap, this.campaigns, this.absent, { wallMs: Date.now(), stuckMs, isPublishing: (id) => this.transport.isPublishing(id) });
      for (const subject of plan.drop) await this.transport.dropBatches(subject);
      if (plan.drop.length > 0) this.log.info({ messages: plan.drop.length }, 'removed batches of stopped campaigns or already answered from the work queue');
      for (const s of plan.stuck) {
        if (await this.transport.deadLetterUndeliverable(s.subject, snap.deliveredSeq, 'out for long and never to be delivered again')) this.forget(s);
      }
      for (const l of plan.lost) {
        this.log.warn({ campaign: l.campaignId, batch: l.batchId }, 'batch in no queue and unanswered; forgotten');
        this.forget(l);
      }
      this.persistAndPublish();
    } catch (err) {
      this.log.debug({ err: String(err) }, 'work queue sweep failed; next time');
    } finally {
      this.sweeping = false;
    }
  }

  private forget(b: { campaignId: string; batchId: string }): void {
    const c = this.campaigns.get(b.campaignId);
    if (c && forgetBatch(c, b.batchId) && c.rec.state === 'running') this.topUp(c);
  }

  private notify(c: CampaignRuntime, now: number): void {
    if (c.listeners.size === 0 || now - c.lastNotify < NOTIFY_MS) return;
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
    this.metrics.unique.set({ campaign: c.id }, c.reportedCount());
    // Config labels come from the campaign's validated list only.
    for (const s of kernelStatsOf(c)) this.metrics.setKernelConfig(c.id, configFigures(s));
    let minimizing = 0;
    let confirming = 0;
    for (const x of this.campaigns.values()) {
      minimizing += x.findings.minimizing;
      confirming += x.findings.confirming;
    }
    this.metrics.minimizeQueue.set(minimizing);
    this.metrics.kernelConfirmQueue.set(confirming);
  }

  /**
   * Its queued batches are removed; those running finish and their results
   * count (they stay out until answered, or found lost by a sweep).
   */
  private async endCampaign(c: CampaignRuntime, state: 'stopped' | 'done'): Promise<void> {
    if (c.rec.state !== 'running') return;
    c.rec.state = state;
    c.persist();
    this.log.info({ campaign: c.id, state, execs: c.rec.execs, findings: c.reportedCount() }, `campaign ${state}`);
    const n = await this.transport.dropCampaignBatches(c.id);
    this.log.info({ campaign: c.id, messages: n }, 'removed its queued batches');
  }

  /** Keep the campaign's share of batches queued or running: planned now, published once written down. (A kernel campaign's go through kernel-dispatch.ts.) */
  private topUp(c: CampaignRuntime): void {
    if (!this.transport.up || !this.running || c.rec.kernelConfigs !== undefined) return;
    let running = 0;
    for (const x of this.campaigns.values()) if (x.rec.state === 'running') running++;
    const target = batchTarget(this.workers.procs(), running, this.opts);
    const batches = topUpBatches(c, target, Date.now(), this.opts);
    if (batches.length === 0) return;
    this.planned.push(...batches);
    if (!this.publishScheduled) {
      this.publishScheduled = true;
      // After the results being applied now are written down too: one write for all.
      setImmediate(() => this.persistAndPublish());
    }
  }

  /** Write down every campaign that changed, then publish the batches planned: a batch is out in the store before any worker can answer it. */
  private persistAndPublish(): void {
    this.publishScheduled = false;
    this.persistDirty();
    const batches = this.planned;
    this.planned = [];
    for (const b of batches) this.transport.publishBatch(b);
  }

  // ---------------------------------------------------------------------------
  // From the transport

  private onHeartbeat(hb: Heartbeat): void {
    if (this.workers.heartbeat(hb)) this.log.info({ worker: hb.workerId, procs: hb.procs, host: hb.host, kernelConfirm: hb.kernelConfirm, kernel: hb.kernelCampaign }, 'worker connected');
  }

  private onResult(r: WorkerResult): ResultVerdict {
    const c = this.campaigns.get(r.result.campaignId);
    if (!c) return { verdict: 'ignored', why: `${r.kind} result for an unknown campaign ${r.result.campaignId}` };
    const v = applyResult(c, r, this.resultsEnv);
    if (v.verdict !== 'applied') return v;
    if (r.kind === 'batch' && c.rec.state === 'running') this.topUp(c);
    this.updateGauges(c);
    return v;
  }

  private onDeadWork(w: DeadWork): void {
    const c = this.campaigns.get(w.kind === 'batch' ? w.batch.campaignId : w.job.campaignId);
    if (c) forgetDeadWork(c, w);
  }

  private persistDirty(): void {
    for (const c of this.campaigns.values()) if (c.dirty) c.persist();
  }
}

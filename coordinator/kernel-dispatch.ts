// Kernel campaigns' batches, to the workers started with --kernel. A kernel
// batch runs programs on the real kernel (root, loop devices), which most
// workers cannot do, so like a kernel confirmation (confirm-dispatch.ts) it is
// in no shared queue: it goes to one capable worker at a time, directly
// (ff.kernel.<worker>, core NATS). No transport here: `plan` says what to
// send where; the coordinator writes the campaigns down and then sends.
//
// A running kernel campaign keeps one batch out per capable worker. Each
// batch out is in the campaign's record (kernelBatches: its seed, program
// count, config and every worker it went to, written before it is sent), so
// a restarted coordinator knows it; its result counts only from one of those
// workers, and once (results.ts deletes it). It is sent again while no
// capable worker holds it: the one it went to stopped heartbeating, or its
// heartbeats have not listed it for ARRIVAL_MS (lost on the way). With no
// capable worker connected it waits, and the campaign's status says so. A
// batch sent MAX_SENDS times without a result (it killed the workers, or
// their kernels) is given up, logged.

import type { Logger } from '../worker/cluster/log.js';
import type { KernelBatch } from '../worker/cluster/wire-kernel.js';
import { plural } from '../worker/repro/words.js';
import { type ConfigStats, emptyStats } from '../worker/twin/kernel-batch.js';
import type { KernelCampaignInfo, KernelConfigFigures } from './api.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import { ARRIVAL_MS, MAX_SENDS, leastLoaded } from './confirm-dispatch.js';
import type { WorkerTable } from './workers.js';

/** Programs in one kernel batch unless the coordinator is told otherwise (`--kernel-batch-programs`). */
export const DEFAULT_KERNEL_BATCH_PROGRAMS = 200;

export interface KernelSend {
  workerId: string;
  batch: KernelBatch;
}

export class KernelDispatch {
  /** Batch id -> performance.now() ms of its last send (or of the restart that found it out). */
  private readonly sentAt = new Map<string, number>();

  constructor(
    private readonly campaigns: ReadonlyMap<string, CampaignRuntime>,
    private readonly workers: WorkerTable,
    private readonly log: Logger,
    private readonly batchPrograms = DEFAULT_KERNEL_BATCH_PROGRAMS,
  ) {}

  /** What to send now, each already written in its campaign's record (the caller persists before sending). */
  plan(now = performance.now()): KernelSend[] {
    const capable = this.workers.kernelCampaigners(now);
    const load = new Map(capable.map((hb) => [hb.workerId, hb.kernelBatches.length]));
    const out: KernelSend[] = [];
    for (const c of this.campaigns.values()) {
      if (c.rec.kernelConfigs === undefined) continue;
      const batches = (c.rec.kernelBatches ??= {});
      for (const [id, b] of Object.entries(batches)) {
        if (!this.sentAt.has(id)) this.sentAt.set(id, now);
        const target = b.sentTo[b.sentTo.length - 1];
        if (target !== undefined && this.holds(target, id, now)) continue;
        if (c.rec.state !== 'running') this.drop(c, id, 'its campaign is not running and no worker holds it');
        else if (b.sentTo.length >= MAX_SENDS) this.drop(c, id, `sent to ${plural(b.sentTo.length, 'worker')} started with --kernel (${b.sentTo.join(', ')}) and none answered: did it crash them or their kernels?`);
        else this.send(c, id, load, now, out);
      }
      while (c.rec.state === 'running' && Object.keys(batches).length < capable.length) {
        const id = this.newBatch(c);
        if (!this.send(c, id, load, now, out)) break;
      }
    }
    return out;
  }

  /** The worker is connected and lists the batch, or was sent it too recently to have said so. */
  private holds(workerId: string, batchId: string, now: number): boolean {
    const hb = this.workers.latest(workerId, now);
    return hb !== null && (hb.kernelBatches.includes(batchId) || now - (this.sentAt.get(batchId) ?? now) < ARRIVAL_MS);
  }

  /** A new batch of the campaign, written in its record: its seed follows from the campaign's and the batch's number, its config goes round the list. */
  private newBatch(c: CampaignRuntime): string {
    const configs = c.rec.kernelConfigs!;
    const { seq, batchId } = c.nextBatch();
    c.rec.kernelBatches![batchId] = {
      seed: (c.rec.seed ^ Math.imul(seq, 0x9e3779b9)) >>> 0, programs: this.batchPrograms, config: configs[(seq - 1) % configs.length]!, sentTo: [],
    };
    return batchId;
  }

  private send(c: CampaignRuntime, batchId: string, load: Map<string, number>, now: number, out: KernelSend[]): boolean {
    const to = leastLoaded(load);
    if (to === null) return false;
    const b = c.rec.kernelBatches![batchId]!;
    b.sentTo.push(to);
    c.dirty = true;
    load.set(to, load.get(to)! + 1);
    this.sentAt.set(batchId, now);
    out.push({ workerId: to, batch: { batchId, campaignId: c.id, seed: b.seed, programs: b.programs, config: b.config } });
    this.log.info({ campaign: c.id, batch: batchId, worker: to, config: b.config, programs: b.programs, send: b.sentTo.length },
      'kernel batch sent to a worker started with --kernel');
    return true;
  }

  private drop(c: CampaignRuntime, batchId: string, why: string): void {
    delete c.rec.kernelBatches![batchId];
    this.sentAt.delete(batchId);
    c.dirty = true;
    if (c.rec.state === 'running') this.log.error({ campaign: c.id, batch: batchId }, `kernel batch given up: ${why}`);
    else this.log.info({ campaign: c.id, batch: batchId }, `kernel batch dropped: ${why}`);
  }
}

/** A config's figures as the API shows them. */
export function configFigures(s: ConfigStats): KernelConfigFigures {
  return {
    config: s.config, programs: s.programs, programsPerSec: s.kernelSec > 0 ? round(s.programs / s.kernelSec, 10) : 0,
    divergences: s.divergences, divergencesPerMillion: s.programs > 0 ? round((s.divergences * 1e6) / s.programs, 1) : 0,
    kernelViolations: s.kernelViolations, explained: s.explained,
  };
}

function round(x: number, per: number): number {
  return Math.round(x * per) / per;
}

/** A kernel campaign's figures per config (every config it was created with, in order), answered batches only. */
export function kernelStatsOf(c: CampaignRuntime): ConfigStats[] {
  return (c.rec.kernelConfigs ?? []).map((name) => c.rec.kernelStats?.find((s) => s.config === name) ?? emptyStats(name));
}

/** Where a kernel campaign stands, in numbers and words; undefined for a sim campaign. */
export function kernelCampaignInfo(c: CampaignRuntime, capableWorkers: number): KernelCampaignInfo | undefined {
  if (c.rec.kernelConfigs === undefined) return undefined;
  const out = Object.keys(c.rec.kernelBatches ?? {}).length;
  let status: string;
  if (c.rec.state !== 'running') status = `${c.rec.state}${out > 0 ? ` (${plural(out, 'batch', 'batches')} still out)` : ''}`;
  else if (capableWorkers === 0) status = 'waiting for a worker started with --kernel';
  else status = `${plural(out, 'batch', 'batches')} out on ${plural(capableWorkers, 'worker')} started with --kernel`;
  return { configs: kernelStatsOf(c).map(configFigures), workers: capableWorkers, status: `kernel campaign: ${status}` };
}

// Campaign scheduling: the time a campaign has run, and the work batches
// that keep the connected workers busy. No transport here: it says which
// batches to send, the coordinator publishes them.
//
// The coordinator keeps about `batchesPerProc` batches queued or running per
// connected executor thread, shared by the running campaigns. A batch carries
// what a cold executor needs: the campaign's switches, a seed, the newest
// corpus inputs and a spread of older ones, and the coverage bitmap.

import type { WorkBatch } from '../worker/cluster/wire.js';
import type { CampaignRuntime } from './campaign-runtime.js';

export interface ScheduleOptions {
  /** Wall time of one work batch on a worker (default 1000 ms). */
  batchMs?: number;
  /** Batches kept queued or running per connected executor thread (default 2). */
  batchesPerProc?: number;
  /** Per-execution wall-time limit on the workers (default 2000 ms). */
  execTimeoutMs?: number;
}

/** Batches keep a worker this long at most: the batch's time and one execution's time limit. */
export function batchWallMs(o: ScheduleOptions): number {
  return (o.batchMs ?? 1000) + (o.execTimeoutMs ?? 2000);
}

/** A batch to publish: its fields, and its corpus inputs already encoded. */
export interface PlannedBatch {
  batch: Omit<WorkBatch, 'inputs'>;
  inputs: Uint8Array[];
}

/** Add `dtSec` of running time to every running campaign. */
export function advanceElapsed(campaigns: Iterable<CampaignRuntime>, dtSec: number): void {
  for (const c of campaigns) {
    if (c.rec.state !== 'running') continue;
    c.rec.elapsedSec += dtSec;
    c.dirty = true;
  }
}

export function durationUsedUp(c: CampaignRuntime): boolean {
  return c.rec.state === 'running' && c.rec.durationSec !== undefined && c.rec.elapsedSec >= c.rec.durationSec;
}

/** How many batches one of `running` campaigns keeps out for `procs` connected executor threads. */
export function batchTarget(procs: number, running: number, o: ScheduleOptions): number {
  return Math.max(1, Math.ceil((Math.max(1, procs) * (o.batchesPerProc ?? 2)) / Math.max(1, running)));
}

/** The batches that bring `c` up to `target` batches out, noted as out at `wallMs`. */
export function topUpBatches(c: CampaignRuntime, target: number, wallMs: number, o: ScheduleOptions): PlannedBatch[] {
  const out: PlannedBatch[] = [];
  for (let n = Object.keys(c.rec.outstanding).length; n < target; n++) {
    const { seq, batchId } = c.nextBatch();
    c.rec.outstanding[batchId] = wallMs;
    out.push({
      batch: {
        campaignId: c.id, batchId, bugs: c.rec.bugs, seed: (c.rec.seed + seq * 0x9e3779b1) >>> 0, execMs: o.batchMs ?? 1000,
        maxExecs: 0, feedback: true, coverage: c.coverageBits, timeoutMs: o.execTimeoutMs ?? 2000,
      },
      inputs: c.sampleInputs(seq),
    });
  }
  return out;
}

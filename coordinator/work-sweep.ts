// The work queue's upkeep: what a look at FF_WORK (the transport's
// WorkSnapshot) means for the campaigns' batches out. No transport here: the
// coordinator takes a snapshot now and then, this says what to do, the
// transport does it.
//
//   drop    a message whose campaign is not running (stopped, done, gone),
//           or whose batch is not out (its result was applied: a leftover, as
//           a nats-server killed at the wrong moment leaves them)
//   stuck   a batch out for long that the consumer will not deliver again
//           (delivered max_deliver times while no coordinator heard the
//           advisory, or below the consumer's ack floor): dead-lettered
//   lost    a batch out that is in no queue, not on its way there, and whose
//           result, had it been published before the batch left the queue,
//           has been applied by now: it will never be answered
//
// "Lost" takes two looks: a batch absent at one, when FF_RESULTS ended at
// sequence L, is lost at a later one if every result up to L is applied (the
// results consumer's ack floor passed L). A worker acks a batch only after
// its result is stored, so a batch that left the queue had its result at or
// below L.

import { parseBatchSubject } from '../worker/cluster/nats.js';
import type { CampaignRuntime } from './campaign-runtime.js';
import type { WorkSnapshot } from './nats-transport.js';

export interface SweepPlan {
  drop: string[];
  stuck: { subject: string; campaignId: string; batchId: string }[];
  lost: { campaignId: string; batchId: string }[];
}

export interface SweepOptions {
  /** Wall ms now (outstanding batches carry wall ms). */
  wallMs: number;
  /** A batch out longer than this may be stuck (far longer than any batch runs). */
  stuckMs: number;
  /** On its way to the server (published, not stored yet). */
  isPublishing(batchId: string): boolean;
}

/** What the sweeps remember between looks: batch id -> FF_RESULTS' last sequence when the batch was first seen absent. */
export type AbsentBatches = Map<string, number>;

export function planSweep(snap: WorkSnapshot, campaigns: ReadonlyMap<string, CampaignRuntime>, absent: AbsentBatches, o: SweepOptions): SweepPlan {
  const plan: SweepPlan = { drop: [], stuck: [], lost: [] };
  const present = new Set<string>();
  for (const subject of snap.subjects) {
    const p = parseBatchSubject(subject);
    if (p === null) continue;
    const c = campaigns.get(p.campaignId);
    if (c === undefined || c.rec.state !== 'running') {
      plan.drop.push(subject);
      continue;
    }
    // A subject of a version before one subject per batch: it runs, and its result counts if its batch is out.
    if (p.batchId === undefined) continue;
    const at = c.rec.outstanding[p.batchId];
    if (at === undefined) {
      plan.drop.push(subject);
      continue;
    }
    present.add(p.batchId);
    if (snap.undeliverable > 0 && o.wallMs - at > o.stuckMs) plan.stuck.push({ subject, campaignId: c.id, batchId: p.batchId });
  }
  const out = new Set<string>();
  for (const c of campaigns.values()) {
    for (const batchId of Object.keys(c.rec.outstanding)) {
      out.add(batchId);
      if (present.has(batchId) || o.isPublishing(batchId)) {
        absent.delete(batchId);
        continue;
      }
      const since = absent.get(batchId);
      if (since === undefined) {
        absent.set(batchId, snap.resultsLastSeq);
      } else if (snap.resultsAckFloor >= since) {
        plan.lost.push({ campaignId: c.id, batchId });
        absent.delete(batchId);
      }
    }
  }
  for (const id of absent.keys()) if (!out.has(id)) absent.delete(id);
  return plan;
}

// The worker processes the coordinator has heard from: each one's last
// heartbeat. A worker counts as connected while its heartbeat is fresh; one
// started with --kernel-confirm says so in each heartbeat.

import type { Heartbeat } from '../worker/cluster/wire.js';

const HEARTBEAT_FRESH_MS = 5_000;
/** A worker silent this long is forgotten (workers come and go with new ids; forged ids must not pile up). */
const FORGET_MS = 10 * 60_000;
/** topUp asks for the executor count on every result: recount at most this often. */
const PROCS_RECOUNT_MS = 200;

export class WorkerTable {
  private readonly seen = new Map<string, { hb: Heartbeat; at: number }>();
  private procsAt = -Infinity;
  private procsCache = 0;

  /** Note a heartbeat; true when the worker is new to this coordinator. */
  heartbeat(hb: Heartbeat, now = performance.now()): boolean {
    const fresh = !this.seen.has(hb.workerId);
    this.seen.set(hb.workerId, { hb, at: now });
    return fresh;
  }

  isConnected(workerId: string, now = performance.now()): boolean {
    const w = this.seen.get(workerId);
    return w !== undefined && now - w.at < HEARTBEAT_FRESH_MS;
  }

  connected(now = performance.now()): Heartbeat[] {
    return [...this.seen.values()].filter((w) => now - w.at < HEARTBEAT_FRESH_MS).map((w) => w.hb);
  }

  /** A connected worker's last heartbeat; null when it is not connected. */
  latest(workerId: string, now = performance.now()): Heartbeat | null {
    const w = this.seen.get(workerId);
    return w !== undefined && now - w.at < HEARTBEAT_FRESH_MS ? w.hb : null;
  }

  /** The connected workers started with --kernel-confirm. */
  kernelConfirmers(now = performance.now()): Heartbeat[] {
    return this.connected(now).filter((hb) => hb.kernelConfirm);
  }

  /** Drop the workers silent for long. */
  prune(now = performance.now()): void {
    for (const [id, w] of this.seen) if (now - w.at > FORGET_MS) this.seen.delete(id);
  }

  /** Executor threads of the connected workers. */
  procs(now = performance.now()): number {
    if (now - this.procsAt > PROCS_RECOUNT_MS) {
      this.procsAt = now;
      this.procsCache = this.connected(now).reduce((n, w) => n + w.procs, 0);
    }
    return this.procsCache;
  }
}

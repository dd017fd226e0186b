// The per-CPU LRU add batches of mm/swap.c. A folio new to the page cache
// waits in its CPU's batch, holding a reference, until the batch fills or is
// drained (lru_add_drain on this CPU, lru_add_drain_all everywhere). Large
// folios go to the LRU at once. That transient reference is why reclaim can
// release a folio's private state and still fail to free it (it stays cached
// without its ifs), a state the page cache code must cope with. Each
// simulated thread is a CPU.

import type { Sched, SimThread } from '../sched.js';
import { folioGet, folioPut } from './folio.js';
import type { Folio } from '../include/pagemap.js';

/** FOLIO_BATCH_SIZE */
const LRU_BATCH = 31;

const batches = new WeakMap<SimThread, Folio[]>();

/** folio_add_lru */
export function folioAddLru(s: Sched, folio: Folio): void {
  const t = s.current;
  if (!t || folio.order > 0) return;
  let b = batches.get(t);
  if (!b) batches.set(t, (b = []));
  folioGet(folio);
  b.push(folio);
  if (b.length >= LRU_BATCH) lruAddDrainThread(s, t);
}

function lruAddDrainThread(s: Sched, t: SimThread): void {
  const b = batches.get(t);
  if (!b) return;
  for (const f of b) folioPut(s, f);
  b.length = 0;
}

/** lru_add_drain: this CPU's batch. */
export function lruAddDrain(s: Sched): void {
  if (s.current) lruAddDrainThread(s, s.current);
}

/** lru_add_drain_all: every CPU's batch. */
export function lruAddDrainAll(s: Sched): void {
  for (const t of s.threads) lruAddDrainThread(s, t);
}

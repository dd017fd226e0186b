// Page reclaim (mm/vmscan.c shrink_folio_list, as far as file folios go):
// each clean folio that is not locked or under writeback is unmapped
// (try_to_unmap), its private state released (filemap_release_folio, which
// frees the ifs), and then removed from the page cache if nobody else holds
// a reference (__remove_mapping). A folio someone still references stays
// cached, now without its ifs: a state later code must cope with.

import type { Co } from '../sched.js';
import { filemapReleaseFolio, filemapRemoveFolio, foliosInRange, unmapMappingFolio } from './filemap.js';
import { folioClass, folioTestDirty, folioTestWriteback, folioTrylock, folioUnlock } from './folio.js';
import { lruAddDrain } from './swap.js';
import { covSite, covState } from '../cov.js';
import type { AddressSpace } from '../include/pagemap.js';

const C_SHRINK = covSite('shrink_folio_list');

export function* shrinkMapping(mapping: AddressSpace): Co<void> {
  const s = mapping.sched;
  const t = s.current;
  t?.frames.push('shrink_folio_list');
  try {
    yield* shrinkFolios(mapping);
  } finally {
    t?.frames.pop();
  }
}

function* shrinkFolios(mapping: AddressSpace): Co<void> {
  const s = mapping.sched;
  // shrink_inactive_list drains this CPU's batch only; other CPUs' batches keep their references.
  lruAddDrain(s);
  for (const folio of foliosInRange(mapping, 0, Number.MAX_SAFE_INTEGER)) {
    if (s.preemptPoint()) yield;
    if (folio.mapping !== mapping || !folioTrylock(folio)) continue;
    covState(C_SHRINK, folioClass(folio) | (folio.refcount > 2 ? 64 : 0) | (folio.mapcount > 0 ? 128 : 0));
    if (!folioTestDirty(folio) && !folioTestWriteback(folio)) {
      unmapMappingFolio(folio);
      // Dirtied through a pte we just zapped? Then it is not reclaimable now.
      if (!folioTestDirty(folio) && filemapReleaseFolio(folio) && folio.refcount === 1) filemapRemoveFolio(mapping, folio);
    }
    folioUnlock(s, folio);
  }
}

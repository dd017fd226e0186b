// fs/iomap/iter.c: the loop every iomap operation runs. Ask the filesystem for
// a mapping at iter.pos, let the actor process (part of) it, tell the
// filesystem how much was done, and go on; a mapping the actor marked stale is
// asked for again at the same position.

import { warn } from '../checks.js';
import type { Co } from '../sched.js';
import { covSite, covState } from '../cov.js';
import type { Inode } from '../include/fs.js';
import { type FolioBatch, IOMAP_F_STALE, IOMAP_HOLE, IOMAP_NULL_ADDR, type IomapIter, type IomapOps, newIomap } from '../include/iomap.js';

const C_IOMAP_BEGIN = covSite('iomap_iter:iomap_begin');

export function newIomapIter(inode: Inode, pos: number, len: number, flags: number, fbatch: FolioBatch | null = null): IomapIter {
  return { inode, pos, len, flags, iomap: newIomap(), fbatch };
}

/**
 * Run actor over [iter.pos, iter.pos + iter.len). The actor advances iter.pos
 * and returns 0 or a negative errno. Actors are module-level generator
 * functions taking their state as `c`: a generator function expression per
 * call would cost more than the work it does. Returns 0 or the first error; the caller
 * reads iter.pos to learn how far it got.
 */
export function* iomapIterate<C>(iter: IomapIter, ops: IomapOps, actor: (iter: IomapIter, c: C) => Co<number>, c: C): Co<number> {
  const s = iter.inode.fs.sched;
  while (iter.len > 0) {
    const m = iter.iomap;
    m.addr = IOMAP_NULL_ADDR;
    m.offset = 0;
    m.length = 0;
    m.type = IOMAP_HOLE;
    m.flags = 0;
    m.validityCookie = 0;
    const err = yield* ops.iomapBegin(iter, iter.pos, iter.len, iter.flags, m);
    if (err < 0) return err;
    covState(C_IOMAP_BEGIN, m.type | ((m.flags & 15) << 2) | ((iter.flags & 63) << 6));
    // iomap_iter_done(): the mapping must cover the current position.
    if (m.length === 0 || m.offset > iter.pos || m.offset + m.length <= iter.pos) warn(s, 'iomap_iter_done:bad-mapping', 'iomap_iter_done',
      `mapping [${m.offset}, +${m.length}) does not cover pos ${iter.pos}`);
    const before = iter.pos;
    const mapped = Math.min(m.offset + m.length, iter.pos + iter.len) - iter.pos;
    const status = yield* actor(iter, c);
    if (ops.iomapEnd) {
      const e2 = yield* ops.iomapEnd(iter, before, mapped, iter.pos - before, iter.flags, m);
      if (status === 0 && e2 < 0) return e2;
    }
    if (status < 0) return status;
    if (iter.pos === before && !(m.flags & IOMAP_F_STALE)) return 0;
  }
  return 0;
}

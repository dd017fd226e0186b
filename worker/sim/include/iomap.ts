// include/linux/iomap.h: the mapping a filesystem returns for a file range, and
// the operations it provides to the iomap library.

import type { Co } from '../sched.js';
import type { Folio } from './pagemap.js';
import type { Inode } from './fs.js';

export const IOMAP_HOLE = 0;
export const IOMAP_DELALLOC = 1;
export const IOMAP_MAPPED = 2;
export const IOMAP_UNWRITTEN = 3;
export type IomapType = 0 | 1 | 2 | 3;

/** iomap->flags */
export const IOMAP_F_NEW = 1 << 0;
export const IOMAP_F_STALE = 1 << 1;
export const IOMAP_F_SIZE_CHANGED = 1 << 2;
export const IOMAP_F_FOLIO_BATCH = 1 << 3;

/** iomap_iter->flags: what the caller is doing. */
export const IOMAP_WRITE = 1 << 0;
export const IOMAP_ZERO = 1 << 1;
export const IOMAP_FAULT = 1 << 3;
export const IOMAP_DIRECT = 1 << 4;
export const IOMAP_UNSHARE = 1 << 5;

/** No disk address (holes and delalloc). */
export const IOMAP_NULL_ADDR = -1;

export interface Iomap {
  /** Disk byte address of `offset`, or IOMAP_NULL_ADDR. */
  addr: number;
  /** File offset the mapping starts at. */
  offset: number;
  length: number;
  type: IomapType;
  flags: number;
  /** The filesystem's mapping sequence when the map was built (iomap->validity_cookie). */
  validityCookie: number;
}

export function newIomap(): Iomap {
  return { addr: IOMAP_NULL_ADDR, offset: 0, length: 0, type: IOMAP_HOLE, flags: 0, validityCookie: 0 };
}

/** Folios handed over by the filesystem for zeroing (iomap_fill_dirty_folios). */
export interface FolioBatch {
  folios: Folio[];
  next: number;
}

/** struct iomap_iter */
export interface IomapIter {
  inode: Inode;
  /** Current position; advanced as the actor makes progress. */
  pos: number;
  /** Bytes left from pos. */
  len: number;
  flags: number;
  iomap: Iomap;
  fbatch: FolioBatch | null;
}

/** struct iomap_ops */
export interface IomapOps {
  /** Map [pos, pos+len): fill iomap so that it starts at or before pos. */
  iomapBegin(iter: IomapIter, pos: number, len: number, flags: number, iomap: Iomap): Co<number>;
  /** Undo reservations beyond what was written (e.g. punch delalloc after a short write). */
  iomapEnd?(iter: IomapIter, pos: number, len: number, written: number, flags: number, iomap: Iomap): Co<number>;
}

/** struct iomap_write_ops: ->iomap_valid checks the validity cookie under the folio lock. */
export interface IomapWriteOps {
  iomapValid?(inode: Inode, iomap: Iomap): boolean;
  /**
   * Not a kernel op, a check's ground truth: the filesystem maps the block at
   * pos to written data now (whatever the iomap being used says).
   */
  blockWritten?(inode: Inode, pos: number): boolean;
}

/** The bytes of the current mapping left to process: iomap_length(). */
export function iomapLength(iter: IomapIter): number {
  const end = Math.min(iter.iomap.offset + iter.iomap.length, iter.pos + iter.len);
  return end - iter.pos;
}

/** iomap_iter_advance */
export function iomapIterAdvance(iter: IomapIter, n: number): void {
  iter.pos += n;
  iter.len -= n;
}

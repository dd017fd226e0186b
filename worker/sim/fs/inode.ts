// struct inode, as far as the sim needs it, and the per-open struct file. The
// filesystem hangs its own state off these through the Filesystem interface
// (filesystem.ts); the page cache hangs off inode.mapping.

import { RwSem } from '../locks.js';
import { WaitQueue } from '../sched.js';
import { AddressSpace } from '../mm/filemap.js';
import { PAGE_SHIFT } from '../mm/folio.js';
import { ExtentMap } from './extent-map.js';
import type { Filesystem } from './filesystem.js';

export class Inode {
  /** In-core i_size. */
  iSize = 0;
  /** Size recorded on disk (XFS di_size, ext4 i_disksize): what survives a crash. */
  diskSize = 0;
  /** Data fork; unused by fuse, whose data lives in the server. */
  readonly extents = new ExtentMap();
  readonly iRwsem = new RwSem('i_rwsem');
  readonly invalidateLock = new RwSem('invalidate_lock');
  /** i_dio_count: direct I/O in flight; inode_dio_wait() sleeps on dioWq until it is 0. */
  dioCount = 0;
  readonly dioWq = new WaitQueue('i_dio_count');
  readonly mapping: AddressSpace;

  constructor(
    readonly fs: Filesystem,
    readonly ino: number,
    readonly name: string,
    /** ext4 indirect-block (non-extent) inode. */
    readonly indirect: boolean,
    maxFolioBytes: number,
  ) {
    let order = 0;
    while (1 << (order + PAGE_SHIFT + 1) <= maxFolioBytes) order++;
    this.mapping = new AddressSpace(fs.sched, order, () => this.iSize, fs.bugs);
  }

  get blkbits(): number {
    return this.fs.blkbits;
  }
}

/** struct file: an open file description. */
export interface OpenFile {
  inode: Inode;
  direct: boolean;
  /** f_wb_err: the errseq cursor sampled at open. */
  fWbErr: { v: number };
}

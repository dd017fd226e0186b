// include/linux/fs.h, as far as the sim needs it: struct inode, struct file
// (OpenFile), struct kiocb, and the file, inode and vm operations a
// filesystem personality gives the VFS (Filesystem). ext4, xfs and fuse
// implement it and hang their own in-core inode state off Inode (as
// xfs_inode and ext4_inode_info embed struct inode); the page cache hangs
// off inode.mapping; the syscall layer (vfs/) calls only these operations.

import { MAX_FILE_BYTES } from '../../prog/limits.js';
import type { FallocMode } from '../../prog/types.js';
import { type AliasCell, aliasCell, aliasRead, aliasWrite } from '../alias.js';
import type { BlockDevice, PowerCutReport } from '../blockdev.js';
import type { BugSet } from '../bugs.js';
import { RwSem } from '../locks.js';
import { type Co, type Sched, WaitQueue } from '../sched.js';
import { covSite } from '../cov.js';
import { AddressSpace, type Folio, PAGE_SHIFT } from './pagemap.js';

const A_ISIZE_READ = covSite('alias:i_size_read');
const A_ISIZE_WRITE = covSite('alias:i_size_write');

export class Inode {
  private size_ = 0;
  /** Who last read and wrote i_size (alias coverage). */
  private readonly sizeAlias: AliasCell = aliasCell();
  /** Size recorded on disk (XFS di_size, ext4 i_disksize): what survives a crash. */
  diskSize = 0;
  readonly iRwsem = new RwSem('i_rwsem');
  /** i_dio_count: direct I/O in flight; inode_dio_wait() sleeps on dioWq until it is 0. */
  dioCount = 0;
  /** Who last changed and waited on i_dio_count (alias coverage). */
  readonly dioAlias: AliasCell = aliasCell();
  readonly dioWq = new WaitQueue('i_dio_count');
  readonly mapping: AddressSpace;

  constructor(
    readonly fs: Filesystem,
    readonly ino: number,
    readonly name: string,
    maxFolioBytes: number,
  ) {
    let order = 0;
    while (1 << (order + PAGE_SHIFT + 1) <= maxFolioBytes) order++;
    this.mapping = new AddressSpace(fs.sched, order, () => this.iSize, fs.bugs, ino);
  }

  /** In-core i_size, as the kernel reads it (i_size_read). */
  get iSize(): number {
    aliasRead(this.sizeAlias, A_ISIZE_READ);
    return this.size_;
  }

  /** i_size_write. */
  set iSize(size: number) {
    aliasWrite(this.sizeAlias, A_ISIZE_WRITE);
    this.size_ = size;
  }

  /** i_size as the harness sees it from outside the kernel (a stat between ops): not a kernel access. */
  get observedSize(): number {
    return this.size_;
  }

  /** filemap_invalidate_lock(inode->i_mapping): the lock lives in the address space. */
  get invalidateLock(): RwSem {
    return this.mapping.invalidateLock;
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

/** An asynchronous kiocb: io_submit returned -EIOCBQUEUED; aio_wait sleeps on wq until done. */
export interface Kiocb {
  done: boolean;
  result: number;
  readonly wq: WaitQueue;
  /** ki_complete: called in the completion context (bio end_io or the workqueue). */
  onComplete: (() => void) | null;
}

export function newKiocb(): Kiocb {
  return { done: false, result: 0, wq: new WaitQueue('aio'), onComplete: null };
}

/**
 * s_maxbytes of every simulated filesystem: 64 MiB. Writes, truncates and
 * fallocates past it fail with -EFBIG as on any filesystem at its limit; it
 * keeps the shadow model and the final read-back of whole files in memory.
 * Programs are refused before they reach it (prog/limits.ts): a real
 * kernel's limit is far higher, so its -EFBIG would not be the kernel's.
 */
export const SIM_MAX_FILE_BYTES = MAX_FILE_BYTES;

export interface Filesystem {
  readonly name: string;
  readonly sched: Sched;
  readonly dev: BlockDevice;
  readonly blkbits: number;
  readonly blockSize: number;
  /** s_maxbytes */
  readonly maxBytes: number;
  /** The bug switches on for this run; read only by the code paths of the bugs. */
  readonly bugs: BugSet;

  /** Create the in-core inode of a new, empty regular file. */
  createInode(name: string): Inode;

  /**
   * ->read_iter: buffered or direct read into dst; bytes read or -errno. With
   * an iocb (AIO) a direct read may return -EIOCBQUEUED and complete the iocb later.
   */
  readIter(file: OpenFile, pos: number, dst: Uint8Array, iocb?: Kiocb): Co<number>;
  /** ->write_iter: buffered or direct write of src; bytes written or -errno (or -EIOCBQUEUED, as above). */
  writeIter(file: OpenFile, pos: number, src: Uint8Array, iocb?: Kiocb): Co<number>;
  /** ->fallocate */
  fallocate(file: OpenFile, mode: FallocMode, off: number, len: number): Co<number>;
  /**
   * ->remap_file_range(REMAP_FILE_CAN_SHORTEN), where the filesystem shares
   * blocks (xfs with reflink): bytes remapped, or <= 0 and copy_file_range
   * falls back to splice.
   */
  remapFileRange?(fin: OpenFile, offIn: number, fout: OpenFile, offOut: number, len: number): Co<number>;
  /** ->setattr with ATTR_SIZE (truncate). */
  setattrSize(file: OpenFile, size: number): Co<number>;
  /** ->fsync over [start, end] (inclusive). */
  fsync(file: OpenFile, start: number, end: number, datasync: boolean): Co<number>;
  /**
   * vm_ops->page_mkwrite: returns, with the folio locked and dirty, how many
   * bytes of the folio from its start it made writable (the length
   * folio_mkwrite_check_truncate returned: blocks past it were not reserved),
   * or -errno (SIGBUS).
   */
  pageMkwrite(file: OpenFile, folio: Folio): Co<number>;
  /** Write back everything and drop the in-core state of the inode (evict). */
  evictInode(inode: Inode): Co<void>;
  /** Rebuild in-core inode state from what is on disk, after a remount. */
  reloadInode(inode: Inode): void;
  /**
   * The moment the power goes: the device (fuse: the daemon) dies at once,
   * what was not durable is lost or torn (drawn from seed), and I/O in
   * flight or sent until powerRecover ends with an error. Nothing waits for
   * the program's threads: a read in flight fails with the machine.
   */
  powerFail(seed: number): PowerCutReport;
  /**
   * Mount again after powerFail: the page cache and in-core inode state are
   * gone, and crash recovery rebuilds each inode. The caller holds every
   * file quiet (as for a remount).
   */
  powerRecover(seed: number): Co<void>;
  /**
   * The file's bytes as its on-disk metadata maps them now, read without I/O
   * and past the page cache: what the harness's oracle judges after a power
   * cut (a read through the page cache would use up the program's faults).
   */
  readDisk(inode: Inode): Uint8Array;
}

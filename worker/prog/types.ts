// The program language: plain data that every part of foliofuzz speaks.
//
// A Program is a sim configuration, the files it works on, the file descriptors
// opened before the first op, and one or more threads of operations. Ops are
// named after the system calls (or xfs_io commands) they stand for, and carry
// only plain numbers and strings, so that a program round-trips through JSON and
// protobuf unchanged.

export const PROGRAM_VERSION = 1;

export type FsKind = 'ext4' | 'xfs' | 'fuse';
/** ext4 only: extent-mapped inodes (the default) or the old indirect-block ones. */
export type InodeKind = 'extent' | 'indirect';

export interface SimConfig {
  fs: FsKind;
  inode: InodeKind;
  /** Filesystem block size in bytes: 1024, 2048 or 4096. */
  blockSize: number;
  /** Largest folio the page cache allocates, in bytes: 4096 .. 65536, a power of two. */
  folioMax: number;
}

export interface FileDecl {
  name: string;
}

/** A file descriptor opened (O_RDWR|O_CREAT, plus O_DIRECT when direct) before the first op. */
export interface FdDecl {
  file: number;
  direct: boolean;
}

export type FallocMode =
  | 'alloc' // mode 0: allocate, extend i_size
  | 'keep_size' // FALLOC_FL_KEEP_SIZE
  | 'punch' // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
  | 'zero' // FALLOC_FL_ZERO_RANGE
  | 'zero_keep' // FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
  | 'collapse' // FALLOC_FL_COLLAPSE_RANGE
  | 'insert' // FALLOC_FL_INSERT_RANGE
  | 'unshare'; // FALLOC_FL_UNSHARE_RANGE

export const FALLOC_MODES: readonly FallocMode[] = [
  'alloc', 'keep_size', 'punch', 'zero', 'zero_keep', 'collapse', 'insert', 'unshare',
];

export type MmapProt = 'r' | 'w' | 'rw';

export const MMAP_PROTS: readonly MmapProt[] = ['r', 'w', 'rw'];

/** sync_file_range(2) flags. */
export const SYNC_FILE_RANGE_WAIT_BEFORE = 1;
export const SYNC_FILE_RANGE_WRITE = 2;
export const SYNC_FILE_RANGE_WAIT_AFTER = 4;

export type Op =
  /** pwrite(2) of len bytes of `fill`, issued as syscalls of at most bsize bytes (xfs_io -b). */
  | { op: 'pwrite'; fd: number; off: number; len: number; fill: number; bsize?: number }
  /** pread(2), issued as syscalls of at most bsize bytes; checked against the shadow model. */
  | { op: 'pread'; fd: number; off: number; len: number; bsize?: number }
  | { op: 'truncate'; fd: number; size: number }
  | { op: 'fallocate'; fd: number; mode: FallocMode; off: number; len: number }
  | { op: 'copy_range'; fdIn: number; offIn: number; fdOut: number; offOut: number; len: number }
  | { op: 'fsync'; fd: number }
  | { op: 'fdatasync'; fd: number }
  | { op: 'sync_file_range'; fd: number; off: number; len: number; flags: number }
  | { op: 'fadvise_dontneed'; fd: number; off: number; len: number }
  /** echo 3 > /proc/sys/vm/drop_caches, after a sync. */
  | { op: 'drop_caches' }
  /** Write the inode back and evict it from the inode cache (its page cache goes too). */
  | { op: 'evict'; file: number }
  /** Clean unmount and mount again: every file's page cache and in-core state are rebuilt from disk. */
  | { op: 'remount' }
  /**
   * Power cut and mount again: what the device's volatile cache held is lost
   * or torn per sector (drawn from `seed`), the page cache and in-core state
   * are gone, and crash recovery rebuilds every file from the committed
   * metadata. The program's files are opened anew (fresh error cursors).
   */
  | { op: 'power_cut'; seed: number }
  /** close(2) then open(2) again: the fd samples the mapping's error state anew. */
  | { op: 'close_open'; fd: number }
  /** mmap(2) MAP_SHARED of [off, off+len) of fd as mapping `map`. */
  | { op: 'mmap'; map: number; fd: number; off: number; len: number; prot: MmapProt }
  /** Load len bytes at file offset off through mapping `map`. */
  | { op: 'mread'; map: number; off: number; len: number }
  /** Store len bytes of `fill` at file offset off through mapping `map`. */
  | { op: 'mwrite'; map: number; off: number; len: number; fill: number }
  /** msync(2) of [off, off+len) of the mapping; MS_SYNC when sync, else MS_ASYNC. */
  | { op: 'msync'; map: number; off: number; len: number; sync: boolean }
  | { op: 'munmap'; map: number }
  /**
   * io_submit of an O_DIRECT write of len bytes of `fill` (the fd must be
   * direct); `iocb` names it for aio_wait. Returns 0 once io_submit took it:
   * the I/O's result (bytes or -errno) is the completion's, aio_wait's.
   */
  | { op: 'aio_write'; fd: number; off: number; len: number; fill: number; iocb: number }
  /** io_submit of an O_DIRECT read. */
  | { op: 'aio_read'; fd: number; off: number; len: number; iocb: number }
  /** io_getevents for one iocb: sleep until it completed; returns its result. */
  | { op: 'aio_wait'; iocb: number }
  /** Wake the writeback flusher: background writeback of every dirty file, concurrently with the caller. */
  | { op: 'writeback_kick' }
  /** Memory pressure: the reclaim thread releases and evicts clean folios, concurrently with the caller. */
  | { op: 'reclaim' }
  /**
   * Fault injection: the (skip+1)-th data I/O of that direction from now on
   * fails with -EIO, or with `short`, a fuse server answers a WRITE with half
   * the bytes written (a block device has no short bios: -EIO there).
   */
  | { op: 'fail_bio'; write: boolean; skip: number; short?: boolean };

export type OpName = Op['op'];

export interface Thread {
  ops: Op[];
}

/**
 * How the scheduler takes its decisions. `default` keeps running the current
 * thread (sequential programs meet no choice); `random` and `pct` (PCT with
 * `depth` priority change points) draw from `seed`; `replay` takes the
 * default policy except where `decisions` name the choice point it is at.
 */
export type ScheduleStrategy = 'default' | 'random' | 'pct' | 'replay';

/**
 * One choice the default policy would not take, named by where it was taken
 * and what it chose, never by its position in the run: a program edit (an op
 * cut, a thread dropped) leaves every other decision meaning what it meant.
 *
 * The anchor is the thread that ran last (`at`): a program thread `t<i>` or a
 * kernel thread by name ('' before any ran), the op it was in (a kernel
 * thread: its pass, counted from 0), the preemption points it had passed in
 * that op (`step`), and how many scheduler turns it had already sat out at
 * that same point (`nth`: completions delivered while it slept, say).
 */
export interface Decision {
  at: string;
  op: number;
  step: number;
  nth: number;
  /** What ran: a thread (`t<i>` or a kernel thread's name), or a pending completion `ev:<name>#<k>` (the k-th of that name, oldest first). */
  run: string;
}

export interface Schedule {
  strategy: ScheduleStrategy;
  seed: number;
  depth: number;
  decisions: Decision[];
}

export const SCHEDULE_STRATEGIES: readonly ScheduleStrategy[] = ['default', 'random', 'pct', 'replay'];

export interface Program {
  version: number;
  config: SimConfig;
  files: FileDecl[];
  fds: FdDecl[];
  threads: Thread[];
  /** Absent: the default policy. */
  schedule?: Schedule;
}

export const DEFAULT_CONFIG: SimConfig = {
  fs: 'xfs',
  inode: 'extent',
  blockSize: 4096,
  folioMax: 16384,
};

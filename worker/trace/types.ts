// The observed trace: what one run of a program did, as plain data, the same
// for the sim and for a real kernel (the native executor, native/). The
// oracle (worker/oracle/) judges a program by its trace and nothing else, so
// a kernel's run is judged by exactly the rules a simulated one is.
//
// Events are in the order they happened. Within one thread that order is
// exact. Across threads of the sim it is the scheduler's order; across real
// threads it is the order of a global counter taken at each event, so that
// "op A returned before op B started" holds when A's `ret` comes before B's
// `op`, and nothing is claimed about ops that overlap.
//
// Byte payloads are Uint8Array in memory and base64 in JSON (codec.ts).
//
// A few events are facts only the sim can see (marked SIM ONLY): kernel state
// no system call reports. A rule that uses one treats its absence as "could
// be either", never as "did not happen", so a kernel's trace is judged at
// least as leniently as the sim's on those points, and never more strictly.

import type { Program } from '../prog/types.js';
import type { RunViolation } from '../report/violation.js';

export const TRACE_FORMAT = 'foliofuzz-trace/1';

/** [start, end) byte ranges of one file. */
export type ByteRanges = [number, number][];

export type TraceEvent =
  /** Thread t starts op i of its list. */
  | { e: 'op'; t: number; i: number }
  /**
   * One system call of an op that the program issues in chunks (pwrite and
   * pread with `bsize`; without it, one call): its file range and result, and
   * for a read the bytes it returned (ret of them).
   */
  | { e: 'call'; t: number; i: number; off: number; len: number; ret: number; data?: Uint8Array }
  /**
   * Op i of thread t returned `ret` (bytes, 0, or -errno).
   * - `data`: what an mread loaded (ret bytes).
   * - `stored`: mwrite only, the bytes stored before the store faulted (SIGBUS: ret -EFAULT).
   * - `sizes`: every file's size right after the op, where the executor gives it
   *   (the sim: after fallocate, evict and remount; the native executor: always).
   * - `unsettled` (SIM ONLY): mwrite on fuse, the stored bytes that landed in a
   *   folio that was not uptodate (a failed WRITE cleared it): the next read may
   *   re-read them from the server. Absent: the rule assumes any may be.
   */
  | { e: 'ret'; t: number; i: number; ret: number; data?: Uint8Array; stored?: number; sizes?: number[]; unsettled?: ByteRanges }
  /**
   * The AIO that op i of thread t submitted (aio_write/aio_read; iocb ids
   * may be reused, submissions may not) completed with `ret`; for a read, the
   * bytes (ret of them). The sim reports the completion where it happens,
   * possibly inside another op; the native executor when io_getevents reaps
   * it, which is later: an I/O in flight longer than it was is only ever
   * judged more leniently.
   */
  | { e: 'aio'; t: number; i: number; ret: number; data?: Uint8Array }
  /** An injected fault failed a data I/O of `file` over [pos, pos+len): a bio or a fuse request; writeback: it was writeback's. */
  | { e: 'ioerr'; file: number; pos: number; len: number; write: boolean; writeback: boolean }
  /** A writeback error was recorded on the file's mapping (mapping_set_error): fsync will report it. */
  | { e: 'wberr'; file: number }
  /**
   * dio_warn_stale_pagecache: "Page cache invalidation failure on direct
   * I/O" for `file`. The sim knows the range; the kernel's log line does not
   * say it (absent: the whole file).
   */
  | { e: 'stale'; file: number; pos?: number; len?: number }
  /**
   * SIM ONLY: a direct write found cached data it could not drop
   * (kiocb_invalidate_pages failed) and went on as a buffered write over
   * [pos, pos+len); t: the program thread it ran in.
   */
  | { e: 'fallback'; file: number; pos: number; len: number; t?: number }
  /**
   * SIM ONLY: bytes of the file's cached folios that a store through a
   * mapping wrote past EOF and nothing has zeroed yet (post-eof-stores.ts),
   * as of this point: what an extension of the file leaves unzeroed. Emitted
   * before the `ret`, `aio` or `final` event it concerns, and only when there
   * are any. Absent: every byte stored past EOF may be either.
   */
  | { e: 'posteof'; file: number; ranges: ByteRanges }
  /** After a power cut, crash recovery left the file holding `data` (inside the power_cut op). */
  | { e: 'recovered'; file: number; data: Uint8Array }
  /**
   * After the program: the file read back through the page cache (`cache`),
   * after dropping the caches (`drop_caches`), after a clean unmount and
   * mount (`remount`). err: reading it back failed (-errno); data is what
   * came before the error.
   */
  | { e: 'final'; file: number; via: FinalVia; data: Uint8Array; err?: number }
  /** A kernel log line the run caused (the native executor reads /dev/kmsg). */
  | { e: 'klog'; level: number; text: string };

export type FinalVia = 'cache' | 'drop_caches' | 'remount';

export type TraceEventName = TraceEvent['e'];

/** Who produced the trace. */
export type TraceSource =
  | { kind: 'sim'; simVersion: string; bugs: string[] }
  | {
      kind: 'kernel';
      /** uname -r */
      release: string;
      /** statfs: "ext4", "xfs", "fuse" (and the fuse daemon, e.g. "fuse.ffz-fused"). */
      fsType: string;
      blockSize: number;
      /** Which run of `kernel confirm` this was (0-based). */
      run: number;
    };

/** How the run ended. */
export type TraceEnd =
  | { outcome: 'done' }
  /** A check inside the sim fired (a WARN/BUG site, a lock or state invariant, a deadlock): the run stopped there. */
  | { outcome: 'violation'; violation: RunViolation }
  /** The wall-time limit stopped it: no verdict. */
  | { outcome: 'timeout' }
  /** The executor itself failed (a sim bug, or the native executor could not run the program). */
  | { outcome: 'error'; error: string };

export interface Trace {
  format: typeof TRACE_FORMAT;
  source: TraceSource;
  program: Program;
  events: TraceEvent[];
  end: TraceEnd;
}

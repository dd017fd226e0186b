// The data oracle for programs with several threads. Their effects interleave
// as the schedule has it, so the shadow (shadow.ts) cannot follow them; what
// holds for every schedule is read-your-writes: a thread that reads bytes it
// wrote itself, where no op of any other thread may have changed them, reads
// what it wrote. "May have changed" is decided from the program text alone
// and errs wide (see foreignTo), so this never depends on the schedule.

import type { Op, Program } from '../prog/types.js';

/** [start, end) byte ranges; end Infinity for "to the end of the file". */
type Ranges = [number, number][];

const ALL: [number, number] = [0, Infinity];

/**
 * What one thread knows it wrote to one file, and how far the file surely
 * reaches. Every write fills its range with one byte value, so what is known
 * is a short sorted list of [start, end) runs of one value each: no buffer
 * the size of the file per thread (this oracle runs on every multi-threaded
 * execution).
 */
class ThreadFileState {
  /** Disjoint runs sorted by start: [start, end, fill, the op that wrote it]. */
  private runs: [number, number, number, number][] = [];
  /** The file is at least this long: the thread made it so, and no other thread can shrink it. */
  floor = 0;

  wrote(off: number, len: number, fill: number, op: number): void {
    if (len <= 0) return;
    this.forget(off, off + len);
    let i = 0;
    while (i < this.runs.length && this.runs[i]![0] < off) i++;
    this.runs.splice(i, 0, [off, off + len, fill, op]);
  }

  forget(off: number, end: number): void {
    if (end <= off) return;
    const out: [number, number, number, number][] = [];
    for (const r of this.runs) {
      if (r[1] <= off || r[0] >= end) {
        out.push(r);
        continue;
      }
      if (r[0] < off) out.push([r[0], off, r[2], r[3]]);
      if (r[1] > end) out.push([end, r[1], r[2], r[3]]);
    }
    this.runs = out;
  }

  /**
   * The first byte of got (file bytes from off) that differs from a known run
   * and lies in none of the excused ranges, or null.
   */
  firstLoss(off: number, got: Uint8Array, excused: Ranges): OwnWriteLoss | null {
    const end = off + got.length;
    for (const [start, stop, want, op] of this.runs) {
      if (start >= end || stop <= off) continue;
      const e = Math.min(stop, end);
      for (let pos = Math.max(start, off); pos < e; ) {
        const at = firstByteNot(got, pos - off, e - off, want);
        if (at < 0) break;
        pos = off + at;
        const excusedTo = endOfRangeHolding(excused, pos);
        if (excusedTo < 0) return { pos, got: got[at]!, want, op };
        // Every byte up to the end of that range is excused too.
        pos = Math.min(excusedTo, e);
      }
    }
    return null;
  }
}

/** Below this many bytes a loop is cheaper than the native compare's call. */
const NATIVE_COMPARE_MIN = 64;
/** Bytes of the value firstByteNot looks for, to compare against (refilled when the value changes). */
const sameBytes = new Uint8Array(4096);
let sameByte = 0;

/**
 * The index of the first byte of buf[from, to) that is not `byte`, or -1.
 * Reads of a thread's own writes are checked byte by byte against one value:
 * long spans go through the native compare a block at a time.
 */
function firstByteNot(buf: Uint8Array, from: number, to: number, byte: number): number {
  let at = from;
  if (to - from >= NATIVE_COMPARE_MIN) {
    if (sameByte !== byte) {
      sameBytes.fill(byte);
      sameByte = byte;
    }
    // Skip the blocks that hold only `byte`; the loop below finds the first other byte in the next.
    for (; at < to; at += sameBytes.length) {
      const n = Math.min(sameBytes.length, to - at);
      if (Buffer.compare(buf.subarray(at, at + n), sameBytes.subarray(0, n)) !== 0) break;
    }
  }
  for (; at < to; at++) if (buf[at] !== byte) return at;
  return -1;
}

/** The end of the first range holding pos (Infinity for an open one), or -1. */
function endOfRangeHolding(ranges: Ranges, pos: number): number {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (pos >= r[0] && pos < r[1]) return r[1];
  }
  return -1;
}

export interface OwnWriteLoss {
  pos: number;
  got: number;
  want: number;
  /** The op of the thread that wrote it. */
  op: number;
}

export class OwnWrites {
  /**
   * foreign[thread][file]: where other threads' ops may change the file,
   * built on the first read that asks (most pairs are never read).
   */
  private readonly foreign: (Ranges | undefined)[][];
  /** Per thread and file, what its ops may change: built with the first foreign list. */
  private changes: { byThread: Ranges[][]; ownAsync: Ranges[][] } | null = null;
  private readonly state: ThreadFileState[][];
  /** Which files each mapping id may map (an id may be reused for another file). */
  private readonly mapFiles = new Map<number, Set<number>>();
  /** An injected fault makes lost data legitimate anywhere: then nothing is judged. */
  readonly enabled: boolean;

  constructor(private readonly program: Program) {
    const nFiles = program.files.length;
    let faults = false;
    for (const t of program.threads) {
      for (const op of t.ops) {
        if (op.op === 'fail_bio') faults = true;
        if (op.op !== 'mmap') continue;
        const s = this.mapFiles.get(op.map) ?? new Set<number>();
        s.add(this.fileOfFd(op.fd));
        this.mapFiles.set(op.map, s);
      }
    }
    this.enabled = !faults;
    this.foreign = program.threads.map(() => new Array<Ranges | undefined>(nFiles).fill(undefined));
    this.state = program.threads.map(() => Array.from({ length: nFiles }, () => new ThreadFileState()));
  }

  /** Every other thread's ranges of the file, then the thread's own AIO writes'. */
  private foreignTo(thread: number, file: number): Ranges {
    const known = this.foreign[thread]![file];
    if (known !== undefined) return known;
    const { byThread, ownAsync } = (this.changes ??= this.whatOpsMayChange());
    const out: Ranges = [];
    for (let j = 0; j < byThread.length; j++) {
      if (j === thread) continue;
      for (const r of byThread[j]![file]!) out.push(r);
    }
    for (const r of ownAsync[thread]![file]!) out.push(r);
    this.foreign[thread]![file] = out;
    return out;
  }

  /**
   * Per thread and file, the ranges its ops may change; and apart, its AIO
   * writes': one lands whenever the schedule says, before or after the
   * thread's later ops over the same bytes (and its completion invalidates
   * the cache there), so to the thread's own reads it is as foreign as
   * another thread's write.
   */
  private whatOpsMayChange(): { byThread: Ranges[][]; ownAsync: Ranges[][] } {
    const nFiles = this.program.files.length;
    const byThread: Ranges[][] = [];
    const ownAsync: Ranges[][] = [];
    for (const t of this.program.threads) {
      const all: Ranges[] = Array.from({ length: nFiles }, () => []);
      const aio: Ranges[] = Array.from({ length: nFiles }, () => []);
      for (const op of t.ops) {
        for (const [f, range] of this.mayChange(op)) {
          all[f]!.push(range);
          if (op.op === 'aio_write') aio[f]!.push(range);
        }
      }
      byThread.push(all);
      ownAsync.push(aio);
    }
    return { byThread, ownAsync };
  }

  private fileOfFd(fd: number): number {
    return this.program.fds[fd]!.file;
  }

  filesOfMap(map: number): number[] {
    return [...(this.mapFiles.get(map) ?? [])];
  }

  /**
   * The bytes an op may change, per file, widely: a write may also zero
   * everything between the old EOF and its start, so it counts from 0; ops
   * that change the size downwards, shift, or drop in-core state count for
   * the whole file.
   */
  private mayChange(op: Op): [number, [number, number]][] {
    const all = (): [number, [number, number]][] => this.program.files.map((_f, i) => [i, ALL]);
    switch (op.op) {
      case 'pwrite':
      case 'aio_write':
        return [[this.fileOfFd(op.fd), [0, op.off + op.len]]];
      case 'copy_range':
        return [[this.fileOfFd(op.fdOut), [0, op.offOut + op.len]]];
      case 'mwrite':
        return this.filesOfMap(op.map).map((f) => [f, [op.off, op.off + op.len]]);
      case 'truncate':
      case 'fallocate':
        return [[this.fileOfFd(op.fd), ALL]];
      case 'evict':
        return [[op.file, ALL]];
      case 'remount':
      case 'fail_bio':
      case 'power_cut':
        return all();
      case 'pread':
      case 'fsync':
      case 'fdatasync':
      case 'sync_file_range':
      case 'fadvise_dontneed':
      case 'drop_caches':
      case 'close_open':
      case 'mmap':
      case 'mread':
      case 'msync':
      case 'munmap':
      case 'aio_read':
      case 'aio_wait':
      case 'writeback_kick':
      case 'reclaim':
        return [];
      default: {
        const never: never = op;
        return never;
      }
    }
  }

  /** The effect of a thread's op that just returned ret, on what the thread knows. */
  opDone(thread: number, index: number, ret: number, direct: boolean): void {
    const st = this.state[thread]!;
    const op = this.program.threads[thread]!.ops[index]!;
    switch (op.op) {
      case 'pwrite': {
        const s = st[this.fileOfFd(op.fd)]!;
        const done = Math.max(0, ret);
        // A direct write may leave stale page cache over its range by design.
        if (direct) s.forget(op.off, op.off + op.len);
        else {
          s.wrote(op.off, done, op.fill, index);
          s.forget(op.off + done, op.off + op.len);
        }
        if (done > 0) s.floor = Math.max(s.floor, op.off + done);
        return;
      }
      case 'aio_write':
        st[this.fileOfFd(op.fd)]!.forget(op.off, op.off + op.len);
        return;
      case 'copy_range': {
        const s = st[this.fileOfFd(op.fdOut)]!;
        s.forget(op.offOut, op.offOut + op.len);
        if (ret > 0) s.floor = Math.max(s.floor, op.offOut + ret);
        return;
      }
      case 'mwrite':
        for (const f of this.filesOfMap(op.map)) {
          const s = st[f]!;
          // Stores past EOF are not file data; only a full store is known to have happened.
          if (ret === op.len && this.filesOfMap(op.map).length === 1) {
            s.wrote(op.off, Math.max(0, Math.min(op.len, s.floor - op.off)), op.fill, index);
            s.forget(Math.max(op.off, s.floor), op.off + op.len);
          } else s.forget(op.off, op.off + op.len);
        }
        return;
      case 'truncate': {
        const s = st[this.fileOfFd(op.fd)]!;
        s.forget(op.size, Infinity);
        s.floor = ret === 0 ? op.size : Math.min(s.floor, op.size);
        return;
      }
      case 'fallocate': {
        const s = st[this.fileOfFd(op.fd)]!;
        s.forget(op.off, Infinity);
        if (op.mode === 'collapse' || op.mode === 'insert' || ret !== 0) s.floor = Math.min(s.floor, op.off);
        else if (op.mode === 'alloc' || op.mode === 'zero') s.floor = Math.max(s.floor, op.off + op.len);
        return;
      }
      case 'power_cut':
        // What was not durable yet may be gone, in every file, and sizes may fall back.
        for (const s of st) {
          s.forget(0, Infinity);
          s.floor = 0;
        }
        return;
      default:
        return;
    }
  }

  /** The first byte of got (read at off by thread) that differs from what the thread wrote there itself. */
  check(thread: number, file: number, off: number, got: Uint8Array): OwnWriteLoss | null {
    if (!this.enabled) return null;
    return this.state[thread]![file]!.firstLoss(off, got, this.foreignTo(thread, file));
  }
}

// The oracle: judges a run by its observed trace (trace/types.ts), one event
// at a time, in order. The sim's driver feeds it as the run goes, so the
// first violation stops the run where it happened, with the sim's stacks;
// a recorded trace (a real kernel's) is fed the same way after the fact
// (judge.ts). The rules live in rules/, one concern each; this file only
// routes events and keeps the per-op bookkeeping they share.

import { SYNC_FILE_RANGE_WAIT_AFTER, SYNC_FILE_RANGE_WAIT_BEFORE } from '../prog/types.js';
import { READ_ONLY_OPS } from '../prog/ops.js';
import type { Op, Program } from '../prog/types.js';
import type { TraceEvent } from '../trace/types.js';
import { Model, type Raise, type ThreadOp } from './model.js';
import { aioCompleted, aioReaped, aioSubmitted } from './rules/aio.js';
import {
  copyRangeArgsJudged, fadviseArgsJudged, ioArgsJudged, syncFileRangeArgsJudged, truncateArgsJudged,
} from './rules/arguments.js';
import { dioFellBack, directEnd, directStart, directWriteOf, openCacheWrites, stalePagecache } from './rules/collisions.js';
import {
  adoptSizesAfterLostWrites, adoptUnknownSizes, copied, copySource, fallocated, pwriteCalled, stored, truncated,
} from './rules/effects.js';
import { reopened, syncReturned, syncStarted } from './rules/errseq.js';
import { ioFailed } from './rules/faults.js';
import { readBack } from './rules/final.js';
import { kernelLogged } from './rules/kernel-log.js';
import { captureBeforeSync, cutEnded, cutStarted, noteDurability, recovered } from './rules/power-cut.js';
import { checkOwn, checkRead } from './rules/reads.js';

/** The whole of a file from an offset: a stale page cache report that names no range. */
const WHOLE_FILE = Number.MAX_SAFE_INTEGER;

type EventOf<K extends TraceEvent['e']> = Extract<TraceEvent, { e: K }>;

export class Oracle {
  readonly m: Model;

  /**
   * @param hints the trace carries the sim's SIM ONLY events (trace/types.ts)
   * @param raise how a violation leaves: the sim's driver throws it with the
   *   live stacks, the trace judge records where in the trace it fired
   */
  constructor(
    program: Program,
    hints: boolean,
    private readonly raise: Raise,
  ) {
    this.m = new Model(program, hints);
  }

  observe(ev: TraceEvent): void {
    const m = this.m;
    // Whose effect the event applies (a completion's: the op that submitted it); the writer of what the shadow takes.
    if (ev.e === 'op' || ev.e === 'call' || ev.e === 'ret' || ev.e === 'aio') m.applying = { t: ev.t, i: ev.i };
    switch (ev.e) {
      case 'op':
        return this.opStarted(ev.t, ev.i);
      case 'call':
        return this.called(ev);
      case 'ret':
        return this.opReturned(ev);
      case 'aio':
        return aioCompleted(m, this.raise, ev);
      case 'ioerr':
        return ioFailed(m, ev.file, ev.pos, ev.len, ev.write, ev.writeback);
      case 'wberr':
        m.wbErr[ev.file] = true;
        return;
      case 'stale':
        return stalePagecache(m, this.raise, ev.file, ev.pos ?? 0, ev.len ?? WHOLE_FILE);
      case 'fallback':
        return dioFellBack(m, ev.t, ev.file, ev.pos, ev.len);
      case 'posteof':
        m.postEof[ev.file] = ev.ranges;
        return;
      case 'recovered':
        return recovered(m, this.raise, ev);
      case 'final':
        return readBack(m, this.raise, ev);
      case 'klog':
        return kernelLogged(this.raise, ev.text);
    }
  }

  /** Thread t starts op i: the clocks tick, and what the op needs of the state it began in is kept. */
  private opStarted(t: number, i: number): void {
    const m = this.m;
    const op = m.program.threads[t]!.ops[i]!;
    m.opCount++;
    m.clock++;
    const writes = openCacheWrites(m, op);
    const directFile = directWriteOf(m, op);
    const start = m.clock;
    const dstart = directFile >= 0 ? directStart(m, directFile) : -1;
    // A completion during an op that writes is racing with it: the op's
    // effect reaches the shadow only when the op ends.
    m.opInProgressWrites = !READ_ONLY_OPS.has(op.op);
    const st: ThreadOp = {
      op, start, writes, failedBefore: m.failedInOp.length, syncFrom: captureBeforeSync(m, op),
      directFile, directStart: dstart, copy: null, sync: null,
    };
    m.threadOps[t] = st;
    this.opBegins(t, i, op, st);
  }

  /** What the op itself does as it begins. */
  private opBegins(t: number, i: number, op: Op, st: ThreadOp): void {
    const m = this.m;
    switch (op.op) {
      case 'copy_range':
        st.copy = copySource(m, op);
        return;
      case 'fsync':
      case 'fdatasync':
        st.sync = syncStarted(m, m.fds[op.fd]!);
        return;
      case 'sync_file_range':
        // A WAIT flag reports the file's writeback errors as fsync does (file_fdatawait_range).
        if (op.flags & (SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER)) st.sync = syncStarted(m, m.fds[op.fd]!);
        return;
      case 'msync': {
        const desc = m.maps.get(op.map);
        if (desc && op.sync) st.sync = syncStarted(m, desc);
        return;
      }
      case 'aio_write':
      case 'aio_read':
        return aioSubmitted(m, t, i, op);
      case 'power_cut':
        return cutStarted(m);
      default:
        return;
    }
  }

  /** One system call of a chunked pwrite/pread op returned. */
  private called(ev: EventOf<'call'>): void {
    const m = this.m;
    const op = m.program.threads[ev.t]!.ops[ev.i]!;
    if (op.op !== 'pwrite' && op.op !== 'pread') return;
    ioArgsJudged(m, this.raise, op, ev.off, ev.len, ev.ret);
    if (op.op === 'pwrite') return pwriteCalled(m, op, ev.off, ev.len, ev.ret);
    const got = ev.data ?? new Uint8Array(0);
    checkRead(m, this.raise, 'pread', 'ksys_pread64', m.shadowOfFd(op.fd), ev.off, ev.len, got, ev.ret, ev);
    if (ev.ret > 0) checkOwn(m, this.raise, 'pread', 'ksys_pread64', ev.t, m.fileOfFd(op.fd), ev.off, got.subarray(0, ev.ret), ev);
  }

  /** Op i of thread t returned: its effect, then the bookkeeping every op shares. */
  private opReturned(ev: EventOf<'ret'>): void {
    const m = this.m;
    const st = m.threadOps[ev.t]!;
    const op = st.op;
    this.opEffect(ev, st);
    m.own?.opDone(ev.t, ev.i, ev.ret, 'fd' in op && m.fds[op.fd]!.direct);
    for (let f = st.failedBefore; f < m.failedInOp.length; f++) {
      const { file, pos, len } = m.failedInOp[f]!;
      m.shadows[file]!.forget(pos, len);
    }
    // Drop this op's entries (another thread's op may already have dropped them).
    if (m.failedInOp.length > st.failedBefore) m.failedInOp.length = st.failedBefore;
    noteDurability(m, op, ev.ret, st.syncFrom);
    if (ev.sizes) adoptUnknownSizes(m, ev.sizes);
    m.clock++;
    for (const w of st.writes) w.end = m.clock;
    if (st.directFile >= 0) directEnd(m, st.directFile, st.directStart);
  }

  private opEffect(ev: EventOf<'ret'>, st: ThreadOp): void {
    const m = this.m;
    const op = st.op;
    switch (op.op) {
      case 'truncate':
        truncateArgsJudged(m, this.raise, op, ev.ret);
        return truncated(m, op, ev.ret);
      case 'fallocate':
        return fallocated(m, st, op, ev.ret, ev.sizes);
      case 'copy_range':
        copyRangeArgsJudged(m, this.raise, st.copy!, op, ev.ret);
        return copied(m, st, op, ev.ret);
      case 'fadvise_dontneed':
        return fadviseArgsJudged(m, this.raise, op, ev.ret);
      case 'fsync':
      case 'fdatasync':
      case 'msync':
        if (st.sync) syncReturned(m, this.raise, st.sync, ev.ret, 'vfs_fsync_range');
        return;
      case 'sync_file_range':
        syncFileRangeArgsJudged(m, this.raise, op, ev.ret);
        if (st.sync) syncReturned(m, this.raise, st.sync, ev.ret, 'file_fdatawait_range');
        return;
      case 'evict':
      case 'remount':
        return adoptSizesAfterLostWrites(m, ev.sizes);
      case 'power_cut':
        return cutEnded(m, ev.ret);
      case 'close_open':
        return reopened(m, op.fd);
      case 'mmap':
        if (ev.ret === 0) m.maps.set(op.map, m.fds[op.fd]!);
        return;
      case 'munmap':
        if (ev.ret === 0) m.maps.delete(op.map);
        return;
      case 'mread':
        return this.loaded(ev, op);
      case 'mwrite':
        return stored(m, op, ev.stored ?? Math.max(0, ev.ret), ev.unsettled);
      case 'aio_wait':
        return aioReaped(m, op.iocb);
      default:
        return;
    }
  }

  /** An mread returned: its bytes against what this thread wrote, and (sequential) the shadow inside i_size. */
  private loaded(ev: EventOf<'ret'>, op: Extract<Op, { op: 'mread' }>): void {
    const m = this.m;
    const file = m.fileOfMap(op.map);
    if (file < 0 || ev.ret <= 0) return;
    const got = ev.data ?? new Uint8Array(0);
    checkOwn(m, this.raise, 'mread', 'filemap_fault', ev.t, file, op.off, got.subarray(0, ev.ret), ev);
    const shadow = m.shadows[file]!;
    // Bytes past EOF in the last page are not file data: check only inside i_size.
    const inFile = Math.max(0, Math.min(op.len, shadow.size - op.off));
    checkRead(m, this.raise, 'mread', 'filemap_fault', shadow, op.off, inFile, got, inFile, ev);
  }
}

// Asynchronous direct I/O: an AIO is in flight from its submission to its
// completion (in-flight.ts says what that leaves undecided); its effect
// reaches the shadow, or its bytes are checked, when it completes.

import type { Op } from '../../prog/types.js';
import type { TraceEvent } from '../../trace/types.js';
import { EIO } from '../../sim/errno.js';
import type { InflightAio, Model, Raise } from '../model.js';
import { directEnd, directStart } from './collisions.js';
import { fuseWriteNotTaken } from './refused-writes.js';
import { noteChange } from './in-flight.js';
import { checkRead } from './reads.js';
import { directWritePartlyLanded } from './effects.js';

/** io_submit of op i of thread t: in flight from now, under its iocb id (a reused id replaces the entry). */
export function aioSubmitted(m: Model, t: number, i: number, op: Extract<Op, { op: 'aio_write' | 'aio_read' }>): void {
  const desc = m.fds[op.fd]!;
  const write = op.op === 'aio_write';
  const shadow = m.shadows[desc.file]!;
  const a: InflightAio = {
    t, i, write, off: op.off, len: op.len, fill: write ? op.fill : 0, file: desc.file, shadow, done: false,
    submitVersion: shadow.version, conflicted: false, completedInOp: -1, result: 0, grewFrom: -1,
    directStart: write && desc.direct ? directStart(m, desc.file) : -1,
  };
  m.aio.set(op.iocb, a);
  m.submissions.set(submissionKey(t, i), a);
}

function submissionKey(t: number, i: number): string {
  return `${t}:${i}`;
}

/** The AIO op i of thread t submitted completed with ret (a read: data, ret bytes): its effect, or its check. */
export function aioCompleted(m: Model, raise: Raise, ev: Extract<TraceEvent, { e: 'aio' }>): void {
  const { t, i, ret, data } = ev;
  const key = submissionKey(t, i);
  const a = m.submissions.get(key);
  if (!a || a.done) return;
  m.submissions.delete(key);
  a.done = true;
  a.result = ret;
  if (a.directStart >= 0) directEnd(m, a.file, a.directStart);
  a.completedInOp = m.opCount;
  if (a.write) aioWriteCompleted(m, a, ret);
  else if (a.shadow.version === a.submitVersion && !m.opInProgressWrites) {
    // Nothing changed the file while the read was in flight: it must see the shadow.
    checkRead(m, raise, 'aio_read', 'iomap_dio_complete', a.shadow, a.off, a.len, data ?? new Uint8Array(0), ret, ev);
  }
}

function aioWriteCompleted(m: Model, a: InflightAio, ret: number): void {
  if (((ret > 0 && ret < a.len) || ret === -EIO) && a.directStart < 0 && m.fs.refusedWriteUnsettlesFolios) {
    fuseWriteNotTaken(m, a.file, a.off, a.len, Math.max(0, ret));
  }
  if (ret > 0) {
    if (a.off + ret > a.shadow.size) a.grewFrom = a.shadow.size;
    a.shadow.fill(a.off, ret, a.fill);
    if (a.conflicted) a.shadow.forget(a.off, ret);
    // A kernel's trace reports a completion as the op it came during or after ends: an extension
    // racing with a change of the file may have landed before it, and the size depends on which.
    if (a.conflicted && !m.hints) a.shadow.sizeUnknown = true;
    noteChange(m, a.shadow, a);
    // The op under way may change the same bytes again before it ends.
    if (m.checkReads) m.durable?.[a.file]?.note(a.shadow);
  } else if (ret === -EIO || (a.directStart >= 0 && directWritePartlyLanded(m, ret))) {
    // Some of its bios may have landed, racing with other AIOs in flight,
    // those past EOF too: they show once the file grows over them (ext4's
    // direct write does not zero the old EOF block's tail). No invalidation
    // follows a failed write (iomap_dio_complete).
    a.shadow.forgetFailedWrite(a.off, a.len);
    noteChange(m, a.shadow, a);
    if (a.directStart >= 0) m.noteCacheDiskSplit(a.file, a.off, a.len);
    // What landed may reach the disk whatever the op under way does next (a truncate forgets it).
    if (m.checkReads) m.durable?.[a.file]?.note(a.shadow);
  }
}

/** io_getevents collected iocb `id`: it is no longer in flight under that id. */
export function aioReaped(m: Model, id: number): void {
  m.aio.delete(id);
}

// Power cuts: what recovery left must be a state a crash may leave
// (durability.ts), judged for sequential programs, whose effects the shadow
// follows exactly; then everything starts over from what the files hold,
// through descriptions opened anew (the old ones died with the machine).

import type { Op } from '../../prog/types.js';
import { EIO } from '../../sim/errno.js';
import { DurableFile, type StableCapture } from '../durability.js';
import type { DataFault, Model, Raise } from '../model.js';
import type { TraceEvent } from '../../trace/types.js';

/** The cut begins: an fsync that overlaps it in any way sees a change of powerCuts or `cutting`. */
export function cutStarted(m: Model): void {
  m.powerCuts++;
  m.cutting++;
}

/** Crash recovery left the file holding what `ev` says: judge it, then the file is exactly that. */
export function recovered(m: Model, raise: Raise, ev: Extract<TraceEvent, { e: 'recovered' }>): void {
  const { file, data } = ev;
  const shadow = m.shadows[file]!;
  const d = m.durable?.[file];
  if (d && m.checkReads) {
    // AIO drained before the cut completed during this op: note its effect first.
    d.note(shadow);
    const v = d.judge(data);
    // A wrong byte is named by its cause, as any other: whose bytes were
    // made durable and what lost them. Without one, keyed by the call whose
    // promise broke, not by the filesystem's recovery (context, in the message).
    const fault: DataFault | undefined = v && v.what !== 'size'
      ? { file, pos: v.pos, got: v.got, want: v.want, expected: m.writers[d.stableWriterAt(v.pos)] ?? null, seen: { ev, index: v.pos } }
      : undefined;
    if (v) raise('DATA', `power-cut:${v.what}`, d.stableBy, `${m.program.files[file]!.name} after the power cut and ${m.fs.recoveryFn}: ${v.detail}`, fault);
  }
  // What the file held past the recovered size since the stable point may be on the disk there.
  const largest = Math.max(shadow.size, d?.largestSize ?? 0);
  shadow.reset(data);
  shadow.stalePastSize(largest);
  d?.reset(data, shadow.writerRuns());
  m.failedWrites[file] = undefined;
  const e = m.errEvents[file]!;
  e.count = 0;
  e.latestSeen = true;
  m.wbErr[file] = false;
}

/**
 * The power_cut op returned. The error counts started over, so must every
 * cursor into them: not only the descriptions reopened here, but one a
 * mapping still holds (an mmap that ran while the cut quiesced). Against the
 * new mount's errseq, errseq_check_and_advance reports exactly the errors
 * recorded since the cut, as for a description opened at the cut.
 */
export function cutEnded(m: Model, ret: number): void {
  m.cutting--;
  m.powerCuts++;
  if (ret < 0) return;
  for (const d of m.descriptions) d.cursor = 0;
  for (let f = 0; f < m.fds.length; f++) m.fds[f] = m.openDescription(m.fds[f]!.file, m.fds[f]!.direct, 0);
}

/** Before an op of a sequential program with power cuts: an fsync makes durable what the file holds now. */
export function captureBeforeSync(m: Model, op: Op): StableCapture | null {
  if (!m.durable || !m.checkReads || (op.op !== 'fsync' && op.op !== 'fdatasync')) return null;
  return DurableFile.capture(m.shadowOfFd(op.fd));
}

/** After an op of a sequential program with power cuts: what the files held, and what became durable. */
export function noteDurability(m: Model, op: Op, ret: number, before: StableCapture | null): void {
  const d = m.durable;
  if (!d || !m.checkReads) return;
  // fsync/fdatasync: the whole file as it was when the call began, data and the metadata to reach it.
  const synced = before && ret === 0 && (op.op === 'fsync' || op.op === 'fdatasync') ? m.fileOfFd(op.fd) : -1;
  for (let i = 0; i < d.length; i++) {
    if (i === synced) d[i]!.makeStable(before!, m.shadows[i]!, 'vfs_fsync_range');
    else d[i]!.note(m.shadows[i]!);
  }
  if (op.op === 'fallocate' && (op.mode === 'collapse' || op.mode === 'insert') && (ret === 0 || ret === -EIO)) {
    d[m.fileOfFd(op.fd)]!.noteShift(op.off);
  }
  // A clean unmount: every file (direct I/O was drained before it).
  if (op.op === 'remount' && ret === 0) {
    for (let i = 0; i < d.length; i++) d[i]!.makeStable(DurableFile.capture(m.shadows[i]!), m.shadows[i]!, 'sync_filesystem');
  }
}

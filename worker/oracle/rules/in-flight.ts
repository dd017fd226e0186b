// AIO writes in flight: from submission to completion, what one touches is
// undecided. A read over it may see either side; a change of the file under
// it races with it, and so does one in the op during which it completed.

import { EIO } from '../../sim/errno.js';
import type { InflightAio, Model } from '../model.js';
import type { ShadowFile } from '../shadow.js';

/** Whether an AIO write in flight (or completed during this op) may decide what [off, off+len) of the file reads. */
export function aioWriteInFlight(m: Model, shadow: ShadowFile, off: number, len: number): boolean {
  for (const a of m.aio.values()) {
    if (!a.write || (a.done && a.completedInOp !== m.opCount) || a.shadow !== shadow) continue;
    if (a.off < off + len && a.off + a.len > off) return true;
    // An extending write changes the size too (iomap_dio_complete sets
    // i_size before the iocb completes): a read reaching past the size the
    // shadow knows may see the new size, holes before the write included.
    if (a.off + a.len > shadow.size && off + len > shadow.size) return true;
  }
  return false;
}

/**
 * How far an AIO write in flight on the file may have grown it before what
 * the op under way did landed (0: none grows it): its completion sets i_size
 * before the trace reports the completion, after this op's end if it slept.
 */
export function aioExtensionInFlightTo(m: Model, shadow: ShadowFile): number {
  let to = 0;
  for (const a of m.aio.values()) {
    if (a.write && !a.done && a.shadow === shadow && a.off + a.len > shadow.size) to = Math.max(to, a.off + a.len);
  }
  return to;
}

/**
 * The parts of [off, off+len) that an AIO write which completed during the op
 * under way grew the file over: the op's change may have come before the
 * growth, past the EOF of then. A kernel's trace cannot say which (the sim's
 * tells, through its post-EOF store hints).
 */
export function grownDuringOp(m: Model, shadow: ShadowFile, off: number, len: number): [number, number][] {
  const out: [number, number][] = [];
  for (const a of m.aio.values()) {
    if (!a.write || a.shadow !== shadow || !a.done || a.completedInOp !== m.opCount || a.grewFrom < 0) continue;
    const lo = Math.max(off, a.grewFrom);
    const hi = Math.min(off + len, a.off + a.result);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

/** A synchronous op changed the file: AIO writes in flight on it now race with that change. */
export function noteChange(m: Model, shadow: ShadowFile, by: InflightAio | null = null): void {
  for (const a of m.aio.values()) {
    if (!a.write || a.shadow !== shadow || a === by) continue;
    if (!a.done) a.conflicted = true;
    // It completed while this op ran: its bios and this op's may have reached the file in either
    // order. A failed one too: the bios before the one that failed may have landed after this op's.
    else if (a.completedInOp === m.opCount) {
      if (a.result > 0) shadow.forget(a.off, a.result);
      else if (a.result === -EIO) shadow.forget(a.off, a.len);
    }
  }
}

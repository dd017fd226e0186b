// Reads: what a read returned against what the file must hold.
//
// A sequential program's effects are known exactly: every read is compared
// with the shadow. With several threads the order of effects is the
// schedule's, so what holds for every schedule is checked instead:
// read-your-writes over bytes no other thread may change (own-writes.ts).

import type { TraceEvent } from '../../trace/types.js';
import type { Model, Raise } from '../model.js';
import type { ShadowFile } from '../shadow.js';
import { aioWriteInFlight } from './in-flight.js';

/**
 * Compare what a read of [off, off+len) returned (ret bytes of got, the data
 * of event `ev` from index `base`) with the shadow.
 */
export function checkRead(
  m: Model, raise: Raise, what: string, fn: string, shadow: ShadowFile, off: number, len: number, got: Uint8Array, ret: number,
  ev: TraceEvent, base = 0,
): void {
  if (!m.checkReads || ret < 0) return;
  // A read that overlaps an AIO write in flight may see either side of it.
  if (aioWriteInFlight(m, shadow, off, len)) return;
  const want = shadow.view(off, len);
  const shortAfterError = ret < want.length && m.readFailedInOp === m.opCount;
  if (ret !== want.length && !shortAfterError) {
    raise('DATA', `${what}:length`, fn, `${what} at ${off} len ${len} returned ${ret}, the file holds ${want.length} bytes there`,
      ret < want.length ? { file: m.shadows.indexOf(shadow), short: true } : undefined);
  }
  const d = shadow.firstDifferenceAt(off, got.subarray(0, ret));
  if (d >= 0) {
    const file = m.shadows.indexOf(shadow);
    raise('DATA', `${what}:mismatch`, fn,
      `${what} at ${off}: byte ${off + d} is 0x${(got[d] ?? 0).toString(16)}, expected 0x${(want[d] ?? 0).toString(16)}`,
      { file, pos: off + d, got: got[d] ?? -1, want: want[d] ?? -1, expected: m.writerAt(file, off + d), seen: { ev, index: base + d } });
  }
}

/** Several threads: what thread t reads of bytes only it wrote must be what it wrote (got: the data of `ev` from `base`). */
export function checkOwn(
  m: Model, raise: Raise, what: string, fn: string, t: number, file: number, off: number, got: Uint8Array, ev: TraceEvent, base = 0,
): void {
  if (!m.own || got.length === 0) return;
  // A writeback error (ENOSPC converting delalloc, say) may lose cached data legitimately.
  if (m.wbErr[file]) return;
  const loss = m.own.check(t, file, off, got);
  if (loss) {
    raise('DATA', `${what}:own-write-lost`, fn,
      `${what} at ${off} by t${t}: byte ${loss.pos} is 0x${loss.got.toString(16)}, but t${t} wrote 0x${loss.want.toString(16)} there and no other thread touches it`,
      { file, pos: loss.pos, got: loss.got, want: loss.want, expected: { t, i: loss.op, kind: 'data' }, seen: { ev, index: base + loss.pos - off } });
  }
}

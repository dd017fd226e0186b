// Writeback error reporting (errseq): fsync(2) reports -EIO exactly for an
// error recorded since this open file description last heard of one, and a
// sequential program never gets 0 from fsync while one is pending. Every
// description keeps a cursor into the file's count of recorded errors.

import { EIO } from '../../sim/errno.js';
import type { Description, Model, Raise, SyncStart } from '../model.js';

/** close(2) then open(2): errseq_sample hands the new description a latest error nobody has seen. */
export function reopened(m: Model, fd: number): void {
  const old = m.fds[fd]!;
  const e = m.errEvents[old.file]!;
  m.fds[fd] = m.openDescription(old.file, old.direct, e.latestSeen || e.count === 0 ? e.count : e.count - 1);
}

/** An fsync-like call on `desc` begins. */
export function syncStarted(m: Model, desc: Description): SyncStart {
  return { desc, pendingAtStart: m.errEvents[desc.file]!.count > desc.cursor, cutsAtStart: m.powerCuts };
}

/** It returned ret: -EIO only for an error recorded since the description last heard of one, and (sequential) never 0 while one is pending. */
export function syncReturned(m: Model, raise: Raise, s: SyncStart, ret: number, fn: string): void {
  // Another thread cut the power under it: its I/O was aborted (on a real machine it never returned).
  if (m.powerCuts !== s.cutsAtStart || m.cutting > 0) return;
  const e = m.errEvents[s.desc.file]!;
  const name = m.program.files[s.desc.file]!.name;
  if (ret === -EIO) {
    if (e.count <= s.desc.cursor && m.silentErrors[s.desc.file]) {
      // A collision's stale page cache error the log did not show (rate-limited).
      m.recordError(s.desc.file);
      m.wbErr[s.desc.file] = true;
    }
    if (e.count <= s.desc.cursor) {
      raise('INVARIANT', 'fsync:spurious-error', 'file_check_and_advance_wb_err', `${fn} on ${name} returned -EIO, but no fault caused an error it had not reported`);
    }
    s.desc.cursor = e.count;
    e.latestSeen = true;
  } else if (ret === 0 && s.pendingAtStart && m.checkReads) {
    // Keyed by the errseq check every such call reaches, not by the call (context, in the message).
    raise('INVARIANT', 'fsync:error-lost', 'file_check_and_advance_wb_err', `${fn} on ${name} returned 0 with a writeback error it was never told of`);
  }
}

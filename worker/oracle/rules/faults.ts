// Injected I/O errors: a failed data I/O makes what it carried unknown. A
// read that fails part-way returns a short count; a write's data may be in
// the page cache and not on the disk, and writeback's failure is an error
// fsync must report.

import type { Model } from '../model.js';

export function ioFailed(m: Model, file: number, pos: number, len: number, write: boolean, writeback: boolean): void {
  if (!write) {
    // A read that fails part-way returns what it read before the error: a short count.
    m.readFailedInOp = m.opCount;
    return;
  }
  const shadow = m.shadows[file]!;
  // The op under way may still record its own effect on the shadow: forget again after it.
  m.failedInOp.push({ file, pos, len });
  // The page cache may still show the data, the disk does not have it: both are possible from now on.
  shadow.forgetFailedWrite(pos, len);
  shadow.lostWrites = true;
  m.noteCacheDiskSplit(file, pos, len);
  if (writeback) m.recordError(file);
}

// Writes the filesystem refused after the page cache took them: what a
// FUSE server's short WRITE reply or error leaves behind
// (FsSemantics.refusedWriteUnsettlesFolios).

import type { Model } from '../model.js';

/**
 * A buffered write the filesystem did not take whole (a FUSE server's short
 * reply or an error, FsSemantics.refusedWriteUnsettlesFolios): all of
 * [start, start+len) had been copied into the page cache, and the folios from
 * the one where the server stopped lost uptodate with their dirty bits
 * kept. Such a folio is re-read from the server at the next read, dropping
 * bytes stored through a mapping that were not written back yet; if it stays
 * dirty, writeback sends the bytes the server refused. Either may happen: the
 * rest of those folios is unknown. The folio size is not known here: folioMax
 * bounds it.
 */
export function fuseWriteNotTaken(m: Model, file: number, start: number, len: number, taken: number): void {
  const shadow = m.shadows[file]!;
  const [lo, hi] = m.folioSpan(start + taken, len - taken);
  // The part the server took is on the server and in the cache alike.
  if (lo < start) shadow.forget(lo, start - lo);
  shadow.copiedNotWritten(start + taken, hi - start - taken);
  m.unsettled[file] = true;
}

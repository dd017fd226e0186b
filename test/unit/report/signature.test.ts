// Signatures (worker/report/signature.ts): what is key and what is context,
// the DATA cause form, and version 1 signatures of stores written before it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bugKey, checkSignature, dataSignature, findingId, parseSignature } from '../../../worker/report/signature.js';

test('a check is keyed by the function it fired in; the callers are context', () => {
  assert.equal(checkSignature('WARN', 'ifs_free:ifs-not-uptodate', 'ifs_free<-truncate_inode_pages_range'), 'WARN ifs_free:ifs-not-uptodate @ ifs_free');
  assert.equal(checkSignature('WARN', 'ifs_free:ifs-not-uptodate', 'ifs_free<-shrink_folio_list'), 'WARN ifs_free:ifs-not-uptodate @ ifs_free');
  assert.equal(checkSignature('BUG', 'folio_end_read:already-uptodate', 'folio_end_read'), 'BUG folio_end_read:already-uptodate @ folio_end_read');
});

test('the stale page cache warning keeps its caller: a synchronous completion is another window than the workqueue', () => {
  assert.equal(checkSignature('WARN', 'dio_warn_stale_pagecache', 'dio_warn_stale_pagecache<-iomap_dio_rw'), 'WARN dio_warn_stale_pagecache @ dio_warn_stale_pagecache<-iomap_dio_rw');
  assert.equal(checkSignature('WARN', 'dio_warn_stale_pagecache', 'dio_warn_stale_pagecache'), 'WARN dio_warn_stale_pagecache @ dio_warn_stale_pagecache');
  assert.equal(parseSignature('WARN dio_warn_stale_pagecache @ dio_warn_stale_pagecache<-iomap_dio_rw')?.version, 2);
});

test('a DATA cause reads back into its parts', () => {
  const sig = dataSignature({ cls: 'lost-write', expected: 'write', how: 'zeroed', fn: 'iomap_writeback_handle_eof' });
  assert.equal(sig, 'DATA lost-write write <- zeroed @ iomap_writeback_handle_eof');
  const p = parseSignature(sig)!;
  assert.deepEqual(p.cause, { cls: 'lost-write', expected: 'write', how: 'zeroed', fn: 'iomap_writeback_handle_eof' });
  assert.deepEqual([p.kind, p.invariant, p.site, p.version], ['DATA', 'lost-write write <- zeroed', ['iomap_writeback_handle_eof'], 2]);
  // A short read names no byte: the plain form.
  const short = parseSignature('DATA read-error:EIO @ filemap_read_folio')!;
  assert.deepEqual([short.cause, short.invariant, short.version], [undefined, 'read-error:EIO', 2]);
  // Not a cause: an unknown class, or spaces where a word goes.
  assert.equal(parseSignature('DATA lost-ish mwrite <- zeroed @ f')?.cause, undefined);
  assert.equal(parseSignature('DATA lost-write d io <- zeroed @ f')?.cause, undefined);
});

test('version 1 signatures still read, and an old WARN groups with the one it became', () => {
  const old = 'WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range';
  const p = parseSignature(old)!;
  assert.deepEqual([p.kind, p.invariant, p.site, p.version], ['WARN', 'ifs_free:uptodate-mismatch', ['ifs_free', 'truncate_inode_pages_range'], 1]);
  assert.equal(bugKey(old), 'WARN ifs_free:uptodate-mismatch @ ifs_free');
  assert.equal(bugKey('WARN ifs_free:uptodate-mismatch @ ifs_free<-shrink_folio_list'), bugKey(old));
  assert.equal(bugKey('BUG folio_end_read:already-uptodate @ folio_end_read<-iomap_read_folio'), 'BUG folio_end_read:already-uptodate @ folio_end_read');
  // A version 1 DATA signature named the read that saw it, not a cause: a group of its own.
  const data = 'DATA pread:mismatch @ ksys_pread64';
  assert.equal(parseSignature(data)?.version, 1);
  assert.equal(bugKey(data), data);
  // Version 2 signatures are their own key.
  assert.equal(bugKey('DATA lost-write write <- zeroed @ __iomap_write_begin'), 'DATA lost-write write <- zeroed @ __iomap_write_begin');
  // The id still hashes the signature as stored: an old store keeps its directories.
  assert.equal(findingId(old), '290a8c9ea88e');
});

test('bugKey: a format 2 signature renamed since (errseq by the call, rereads by the bio completion or as a hole) groups with what this build writes', () => {
  assert.equal(bugKey('INVARIANT fsync:error-lost @ vfs_fsync_range'), 'INVARIANT fsync:error-lost @ file_check_and_advance_wb_err');
  assert.equal(bugKey('INVARIANT fsync:error-lost @ file_fdatawait_range'), 'INVARIANT fsync:error-lost @ file_check_and_advance_wb_err');
  assert.equal(bugKey('INVARIANT fsync:spurious-error @ vfs_fsync_range'), 'INVARIANT fsync:spurious-error @ file_check_and_advance_wb_err');
  assert.equal(bugKey('DATA lost-write write <- reread @ iomap_read_end_io'), 'DATA lost-write write <- reread @ iomap_read_folio_iter');
  assert.equal(bugKey('DATA lost-write write <- hole @ iomap_read_folio_iter'), 'DATA lost-write write <- reread @ iomap_read_folio_iter');
  assert.equal(bugKey('DATA lost-write write <- reread @ __iomap_write_begin'), 'DATA lost-write write <- reread @ __iomap_write_begin');
  // Current signatures are their own key; a power cut keyed by the recovery cannot be renamed.
  assert.equal(bugKey('DATA lost-write write <- zeroed @ iomap_writeback_handle_eof'), 'DATA lost-write write <- zeroed @ iomap_writeback_handle_eof');
  assert.equal(bugKey('DATA power-cut:durable @ xlog_recover'), 'DATA power-cut:durable @ xlog_recover');
});

// What each filesystem allows that the generic rules would call a bug: the
// one place the oracle's rules learn that fuse, ext4 and xfs differ. Every
// entry is a behaviour of mainline Linux, cited where it lives, never a bug
// switch: the rules judge every filesystem by the same POSIX model and ask
// here only where Linux legitimately departs from it.

import type { FallocMode, FsKind, SimConfig } from '../prog/types.js';

export interface FsSemantics {
  fs: FsKind;
  /**
   * Growing the file leaves bytes a store through a mapping put past the old
   * EOF in the page cache (fuse_write_update_attr only sets i_size; nothing
   * zeroes the old EOF page), so they may reappear as file data, or read as
   * zeroes once the folio was written back or evicted.
   */
  growthKeepsPostEofStores: boolean;
  /**
   * A buffered WRITE the server did not take whole (a short reply, an error):
   * fuse_send_write_pages clears uptodate on every folio of the request from
   * the one where the server stopped, leaving their dirty bits alone. The
   * rest of those folios is unknown from then on.
   */
  refusedWriteUnsettlesFolios: boolean;
  /**
   * fuse_file_fallocate writes the range back, sends FALLOCATE, then zeroes
   * the cache (truncate_pagecache_range) without a lock a page fault takes: a
   * store through a mapping meanwhile may reach the server by writeback
   * before the cache is zeroed, leaving cache and server apart.
   */
  fallocateRacesMappedStores: boolean;
  /**
   * copy_file_range is a buffered write of the destination (the sim's daemon
   * has no FUSE_COPY_FILE_RANGE: fuse_copy_file_range falls back to
   * splice_copy_file_range, whose write half is fuse_perform_write).
   */
  copyRangeIsBufferedWrite: boolean;
  /**
   * A fallocate of this mode that extends the file and fails part-way may
   * leave any size it reached: ext4_alloc_file_blocks grows i_size as it
   * allocates, before ext4_zero_partial_blocks reads an edge block and
   * fails. (xfs sets the size only after the whole call, xfs_falloc_setsize;
   * fuse's server answers for it at once.)
   */
  failedFallocateKeepsSize: (mode: FallocMode) => boolean;
  /**
   * A direct write refused for its alignment (-EINVAL) may have written part
   * of its range first: ext4_dio_write_iter leaves the check to
   * iomap_dio_bio_iter, per mapping, so the bios of the mappings before the
   * misaligned one are already out (6.18 keeps them). xfs_file_dio_write
   * checks before any I/O; fuse has no alignment rule.
   */
  misalignedDirectWriteMayLand: boolean;
  /** Where the filesystem rebuilds its files after a power cut: the site of power-cut findings. */
  recoveryFn: string;
}

const never = (): boolean => false;

const XFS: FsSemantics = {
  fs: 'xfs',
  growthKeepsPostEofStores: false,
  refusedWriteUnsettlesFolios: false,
  fallocateRacesMappedStores: false,
  copyRangeIsBufferedWrite: false,
  failedFallocateKeepsSize: never,
  misalignedDirectWriteMayLand: false,
  recoveryFn: 'xlog_recover',
};

/** ext4 with extent-mapped and with indirect-block inodes alike. */
const EXT4: FsSemantics = {
  fs: 'ext4',
  growthKeepsPostEofStores: false,
  refusedWriteUnsettlesFolios: false,
  fallocateRacesMappedStores: false,
  copyRangeIsBufferedWrite: false,
  failedFallocateKeepsSize: (mode) => mode === 'alloc' || mode === 'zero',
  misalignedDirectWriteMayLand: true,
  recoveryFn: 'jbd2_journal_recover',
};

const FUSE: FsSemantics = {
  fs: 'fuse',
  growthKeepsPostEofStores: true,
  refusedWriteUnsettlesFolios: true,
  fallocateRacesMappedStores: true,
  copyRangeIsBufferedWrite: true,
  failedFallocateKeepsSize: never,
  misalignedDirectWriteMayLand: false,
  recoveryFn: 'fuse_fill_super',
};

export function fsSemantics(config: SimConfig): FsSemantics {
  switch (config.fs) {
    case 'xfs':
      return XFS;
    case 'ext4':
      return EXT4;
    case 'fuse':
      return FUSE;
  }
}

// What each sim configuration supports of the ops the script generator
// emits, against the real file the differential test writes (plain ext4).

import type { FallocMode, SimConfig } from '../../worker/prog/types.js';


/**
 * The fallocate modes a configuration accepts (the rest return EOPNOTSUPP).
 * - ext4 extent inodes and xfs: everything the generator uses.
 * - ext4 indirect-block inodes: ext4_fallocate handles PUNCH_HOLE before its
 *   "extents only" check; everything else is EOPNOTSUPP.
 * - fuse: fuse_file_fallocate accepts mode 0, KEEP_SIZE, PUNCH_HOLE and
 *   ZERO_RANGE (with or without KEEP_SIZE); COLLAPSE/INSERT are EOPNOTSUPP.
 *   (Whether mode 0 succeeds is up to the server; ours implements it.)
 */
export function supportedFallocModes(config: SimConfig): ReadonlySet<FallocMode> {
  switch (config.fs) {
    case 'ext4':
      if (config.inode === 'indirect') return new Set<FallocMode>(['punch']);
      return new Set<FallocMode>(['alloc', 'keep_size', 'punch', 'zero', 'zero_keep', 'collapse', 'insert']);
    case 'xfs':
      return new Set<FallocMode>(['alloc', 'keep_size', 'punch', 'zero', 'zero_keep', 'collapse', 'insert']);
    case 'fuse':
      return new Set<FallocMode>(['alloc', 'keep_size', 'punch', 'zero', 'zero_keep']);
  }
}

/** A config that supports every op the generator can emit (the real file's own: ext4 extents, 4 KiB). */
export const REAL_FILE_CONFIG: SimConfig = { fs: 'ext4', inode: 'extent', blockSize: 4096, folioMax: 65536 };

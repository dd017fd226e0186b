// XFS: delayed allocation for buffered writes, delalloc → unwritten at
// writeback → written at I/O completion, and the data fork sequence number
// as the iomap validity cookie (xfs_buffered_write_iomap_valid).

import { BlockFs } from './blockfs.js';

export class XfsFs extends BlockFs {
  readonly name = 'xfs';

  protected freeExtentSite(): string {
    return 'xfs_free_ag_extent';
  }

  protected hasValidityCookie(): boolean {
    return true;
  }
}

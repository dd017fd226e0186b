// The in-core inode of a block filesystem around the VFS one, as xfs_inode and
// ext4_inode_info embed struct inode: the data fork (the extent map) and, for
// ext4, whether the inode maps its blocks indirectly. BLOCK_I() gets it back
// from the struct inode the VFS and iomap hand around (XFS_I(), EXT4_I()).

import { type Filesystem, Inode } from '../include/fs.js';
import { ExtentMap } from './extent-map.js';

export class BlockInode extends Inode {
  /** The data fork: the XFS in-core extent list, the ext4 extent status tree. */
  readonly extents = new ExtentMap();

  constructor(
    fs: Filesystem,
    ino: number,
    name: string,
    /** ext4 indirect-block (non-extent) inode. */
    readonly indirect: boolean,
    maxFolioBytes: number,
  ) {
    super(fs, ino, name, maxFolioBytes);
  }
}

/**
 * XFS_I() / EXT4_I(): a block filesystem's inode from the VFS inode. Every
 * inode a block filesystem sees is one it created; anything else is a bug of
 * the simulator.
 */
export function BLOCK_I(inode: Inode): BlockInode {
  if (!(inode instanceof BlockInode)) throw new Error(`sim: inode ${inode.ino} (${inode.name}) is not a block filesystem's`);
  return inode;
}

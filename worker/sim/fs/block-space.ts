// The block filesystems' space and metadata (xfs and ext4 alike): the state
// every layer above shares (block size, allocator, inodes), the extent map
// read out as iomaps, delayed allocation reservations, block allocation and
// freeing, and the log: what a commit captures of an inode, what crash
// recovery rebuilds from it. The behaviour follows XFS (xfs_bmap.c,
// xfs_bmap_util.c, xfs_extent_busy.c, xfs_log_recover.c); the hooks where
// ext4 differs are abstract here and implemented in xfs.ts and ext4.ts.
// block-io.ts builds the I/O paths on this, blockfs.ts the size and space
// operations.

import type { BlockDevice, PowerCutReport } from '../blockdev.js';
import { violation } from '../checks.js';
import { ENOSPC } from '../errno.js';
import type { Co, Sched } from '../sched.js';
import type { BugSet } from '../bugs.js';
import { BlockAllocator } from './balloc.js';
import { ExtState, type Extent } from './extent-map.js';
import { type Inode, SIM_MAX_FILE_BYTES } from '../include/fs.js';
import { BLOCK_I, type BlockInode } from './block-inode.js';
import { IOMAP_DELALLOC, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_NULL_ADDR, IOMAP_UNWRITTEN, type Iomap } from '../include/iomap.js';
import { truncateInodePagesRange } from '../mm/truncate.js';
import { provenance } from '../provenance.js';

export interface BlockFsOptions {
  blockSize: number;
  folioMax: number;
  /** Device size in bytes. */
  deviceBytes: number;
  bugs: BugSet;
}

/** An inode's metadata as a log commit writes it: its on-disk size and allocated extents. */
export interface InodeSnapshot {
  ino: number;
  size: number;
  exts: Extent[];
  /** When it was taken: a commit never replaces a newer snapshot with an older one. */
  gen: number;
}

export abstract class BlockSpace {
  abstract readonly name: string;
  readonly blkbits: number;
  readonly blockSize: number;
  readonly maxBytes: number;
  readonly alloc: BlockAllocator;
  readonly inodes: BlockInode[] = [];
  readonly bugs: BugSet;
  /**
   * Each inode's metadata (on-disk size, allocated extents) as of the last
   * log commit that held it: what crash recovery replays. Absent: never
   * committed, so an empty file.
   */
  private readonly committed = new Map<number, InodeSnapshot>();

  constructor(
    readonly sched: Sched,
    readonly dev: BlockDevice,
    protected readonly opts: BlockFsOptions,
  ) {
    this.blockSize = opts.blockSize;
    this.bugs = opts.bugs;
    let bits = 0;
    while (1 << bits < opts.blockSize) bits++;
    this.blkbits = bits;
    this.maxBytes = SIM_MAX_FILE_BYTES;
    // A double free is the kernel's corruption report (ext4_grp_locked_error,
    // XFS_CORRUPTION_ERROR): fatal for the run, as a BUG.
    this.alloc = new BlockAllocator(16, Math.floor(opts.deviceBytes / opts.blockSize), (start, len) =>
      violation(sched, 'BUG', 'free-extent:already-free', this.freeExtentSite(), `blocks [${start}, +${len}) freed while free`));
  }

  /** The kernel function that finds a free of free blocks (xfs_free_ag_extent, mb_free_blocks). */
  protected abstract freeExtentSite(): string;

  /**
   * Blocks the inode no longer maps go back to the allocator. xfs frees them
   * at once and keeps them busy through extentBusyReuse; ext4 holds them back
   * until the freeing transaction commits.
   */
  protected abstract freeBlocks(inode: Inode, start: number, len: number): void;

  /** What state delalloc becomes when written back. */
  protected abstract delallocTarget(inode: Inode): ExtState;

  // ---- extent map → iomap -----------------------------------------------------

  /** Fill m with the extent (or hole) at pos, trimmed to [pos, pos+len) rounded out to blocks. */
  protected mapExtent(inode: BlockInode, pos: number, len: number, m: Iomap): Extent | null {
    const lblk = Math.floor(pos / this.blockSize);
    const endBlk = Math.ceil((pos + len) / this.blockSize);
    const { ext, holeLen } = inode.extents.lookup(lblk);
    m.offset = lblk * this.blockSize;
    m.validityCookie = inode.extents.seq;
    if (!ext) {
      m.type = IOMAP_HOLE;
      m.addr = IOMAP_NULL_ADDR;
      m.length = Math.min(holeLen, endBlk - lblk) * this.blockSize;
      return null;
    }
    const n = Math.min(ext.lblk + ext.len, endBlk) - lblk;
    m.length = n * this.blockSize;
    if (ext.state === ExtState.Delalloc) {
      m.type = IOMAP_DELALLOC;
      m.addr = IOMAP_NULL_ADDR;
    } else {
      m.type = ext.state === ExtState.Unwritten ? IOMAP_UNWRITTEN : IOMAP_MAPPED;
      m.addr = (ext.pblk + (lblk - ext.lblk)) * this.blockSize;
    }
    return ext;
  }

  // ---- allocation -------------------------------------------------------------

  /** Delalloc blocks reserved and not yet allocated. */
  protected reserved = 0;

  /** xfs_buffered_write_delalloc_punch for one block: only a delalloc extent is removed. */
  protected punchDelallocBlock(inode: BlockInode, lblk: number): void {
    const { ext } = inode.extents.lookup(lblk);
    if (ext && ext.state === ExtState.Delalloc) this.punchDelalloc(inode, lblk, 1);
  }

  protected punchDelalloc(inode: BlockInode, lblk: number, n: number): void {
    for (const piece of inode.extents.remove(lblk, n)) {
      if (piece.state === ExtState.Delalloc) this.reserved -= piece.len;
      else inode.extents.set(piece.lblk, piece.len, piece.pblk, piece.state);
    }
  }

  /** Allocate n blocks for file blocks lblk.. in `state`; may return fewer extents than asked (fragmented). */
  protected allocBlocks(inode: BlockInode, lblk: number, n: number, state: ExtState): number {
    let done = 0;
    while (done < n) {
      const got = this.alloc.alloc(n - done);
      if (!got) return done > 0 ? done : -ENOSPC;
      this.extentBusyReuse(got.start, got.len);
      inode.extents.set(lblk + done, got.len, got.start, state);
      done += got.len;
    }
    return done;
  }

  /**
   * xfs_extent_busy_reuse: blocks freed by a transaction not yet committed
   * are still referenced by the committed metadata; handing them out again
   * first forces a log commit of the inodes whose committed extents still
   * hold them, so that crash recovery can never map one file's blocks full of
   * another's data. (xfs allocates data blocks unwritten, so the forced
   * commit maps nothing whose data is not on disk yet. ext4 never gets here
   * with such blocks: freeBlocks keeps them from the allocator until the
   * freeing transaction commits.)
   */
  private extentBusyReuse(start: number, len: number): void {
    for (const owner of this.inodes) {
      const c = this.committed.get(owner.ino);
      if (c && c.exts.some((e) => e.pblk < start + len && start < e.pblk + e.len)) this.logCommitInode(owner);
    }
  }

  /** Free the allocated blocks of removed extent pieces; drop delalloc reservations. */
  protected releaseExtents(inode: BlockInode, pieces: Extent[]): void {
    for (const p of pieces) {
      if (p.state === ExtState.Delalloc) this.reserved -= p.len;
      else this.freeBlocks(inode, p.pblk, p.len);
    }
  }

  /** xfs_bmapi_convert_delalloc: allocate the whole delalloc extent, as unwritten blocks. */
  protected convertDelalloc(inode: BlockInode, ext: Extent): number {
    const { lblk, len } = ext;
    this.reserved -= len;
    inode.extents.remove(lblk, len);
    const got = this.allocBlocks(inode, lblk, len, this.delallocTarget(inode));
    if (got < 0) return got;
    if (got < len) return -ENOSPC;
    return 0;
  }

  protected convertUnwritten(inode: BlockInode, pos: number, size: number): void {
    const lblk = Math.floor(pos / this.blockSize);
    const end = Math.ceil((pos + size) / this.blockSize);
    inode.extents.convert(lblk, end - lblk, ExtState.Unwritten, ExtState.Written);
  }

  /** Remove the blocks wholly past newsize (xfs_itruncate_extents). */
  protected truncateExtents(inode: BlockInode, newsize: number): void {
    const first = Math.ceil(newsize / this.blockSize);
    this.releaseExtents(inode, inode.extents.remove(first, Number.MAX_SAFE_INTEGER - first));
  }

  // ---- log and crash recovery -------------------------------------------------

  /**
   * A log commit holding the inode's metadata. Delalloc reservations are
   * in-core only; extents still unwritten stay unwritten (read as zeroes)
   * until a later commit holds their conversion.
   */
  protected logCommitInode(inode: BlockInode): void {
    this.installCommitted([this.snapshotInode(inode)]);
  }

  /** The inode's metadata as a commit now would write it. */
  protected inodeMetadata(inode: BlockInode): InodeSnapshot {
    const exts = inode.extents.exts.filter((e) => e.state !== ExtState.Delalloc).map((e) => ({ ...e }));
    return { ino: inode.ino, size: inode.diskSize, exts, gen: ++this.snapshotGen };
  }

  /** The gen of the newest snapshot taken (InodeSnapshot.gen). */
  protected snapshotGen = 0;

  /** The metadata a log commit takes of the inode (ext4 also remembers it as journaled). */
  protected snapshotInode(inode: BlockInode): InodeSnapshot {
    return this.inodeMetadata(inode);
  }

  /**
   * The commit record is on disk. The log write is REQ_PREFLUSH|REQ_FUA:
   * every completed data write is durable before the metadata that maps it
   * (extents converted at I/O completion, the size moved there) is.
   */
  protected installCommitted(snaps: readonly InodeSnapshot[]): void {
    // Between the cut and log recovery the machine is dead, though the sim's
    // threads run on: a commit the flusher's allocation (or jbd2) makes then
    // writes a log record the disk never got.
    if (!this.dev.powered) return;
    this.dev.syncCache();
    // A journal commit that captured its snapshot before a later direct commit
    // (a clean unmount's, a busy extent's) completes as if it came first.
    for (const snap of snaps) {
      const cur = this.committed.get(snap.ino);
      if (!cur || snap.gen > cur.gen) this.committed.set(snap.ino, snap);
      // Blocks the inode freed before this snapshot are unreferenced on disk now.
      this.alloc.releaseCommitted(snap.ino, this.committed.get(snap.ino)!.gen);
    }
  }

  /** Power cut: the device loses what was not flushed (torn per sector from the seed). */
  powerFail(seed: number): PowerCutReport {
    return this.dev.powerCut(seed);
  }

  /**
   * Mount again after the cut: the page cache and in-core inode state are
   * gone, and log recovery brings back each inode's last committed size and
   * extents. The caller holds every file quiet (as for a remount).
   */
  *powerRecover(_seed: number): Co<void> {
    // Folios under writeback finish first (their bios now fail); nothing they do survives.
    for (const inode of this.inodes) yield* truncateInodePagesRange(inode.mapping, 0, -1, () => {});
    const used: { start: number; len: number }[] = [];
    for (const inode of this.inodes) {
      const c = this.committed.get(inode.ino) ?? { size: 0, exts: [] };
      const map = inode.extents;
      map.exts.splice(0, map.exts.length, ...c.exts.map((e) => ({ ...e })));
      map.seq++;
      inode.diskSize = c.size;
      inode.iSize = c.size;
      for (const e of c.exts) used.push({ start: e.pblk, len: e.len });
    }
    this.dev.powerOn();
    this.alloc.resetTo(used);
    // Delayed allocation reservations are in-core only.
    this.reserved = 0;
    for (const inode of this.inodes) this.recoveryTrim(inode);
    // A reader racing with the cut (the sim's process outlives it) may have
    // cached what the lost in-core state mapped meanwhile: that goes too.
    for (const inode of this.inodes) yield* truncateInodePagesRange(inode.mapping, 0, -1, () => {});
    // Mount ends with the log replayed and the device flushed: what the files
    // show now is on stable storage (a writeback of the old page cache that
    // slipped in after the cut included).
    this.dev.syncCache();
  }

  /**
   * The end of crash recovery: an inode caught in a size change loses the
   * written blocks past its recovered size. xfs replays the intents of a
   * truncate whose size change committed (EFI/BUI recovery finishes the
   * extent removal); ext4 truncates the inodes on its orphan list, where
   * ext4_setattr and extending direct writes put them (ext4_orphan_cleanup).
   * The sim keeps neither intents nor an orphan list: written blocks past the
   * recovered size are exactly what such a change in flight leaves, and
   * unwritten ones past it are KEEP_SIZE preallocation, which stays.
   */
  protected recoveryTrim(inode: BlockInode): void {
    const first = Math.ceil(inode.diskSize / this.blockSize);
    const past = inode.extents.exts.filter((e) => e.lblk + e.len > first && e.state === ExtState.Written);
    if (past.length === 0) return;
    for (const e of past) {
      const from = Math.max(first, e.lblk);
      this.releaseExtents(inode, inode.extents.remove(from, e.lblk + e.len - from));
    }
    this.logCommitInode(inode);
  }

  readDisk(vfsInode: Inode): Uint8Array {
    const inode = BLOCK_I(vfsInode);
    const out = new Uint8Array(inode.iSize);
    const bs = this.blockSize;
    for (let b = 0; b * bs < out.length; b++) {
      const { ext } = inode.extents.lookup(b);
      const n = Math.min(bs, out.length - b * bs);
      // Holes, unwritten and delalloc blocks read as zeroes.
      if (!ext || ext.state !== ExtState.Written) {
        provenance()?.mark(out, b * bs, b * bs + n, 'hole', 'iomap_read_folio_iter');
        continue;
      }
      this.dev.readVisible((ext.pblk + b - ext.lblk) * bs, out.subarray(b * bs, b * bs + n));
    }
    return out;
  }
}

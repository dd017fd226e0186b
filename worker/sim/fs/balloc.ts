// The block allocator: first fit over a sorted list of free extents. Freed
// blocks are reused, so stale data on them can be exposed by a bug that maps
// them without zeroing, as on a real disk.
//
// Freeing blocks that are free already is the filesystem's bug, and the
// kernel catches it where the free space is kept (ext4 mb_free_blocks:
// "freeing already freed block"; xfs_free_ag_extent: a corrupt free space
// btree): release() checks the runs it lands between and reports through
// the owner's `alreadyFree`. The free list's own shape (sorted, disjoint,
// inside the device, its count) is the simulator's: checked at crash
// recovery, where it is rebuilt, with a plain Error.

export class BlockAllocator {
  /** Sorted, coalesced free runs [start, len]. */
  private free: { start: number; len: number }[];
  freeBlocks: number;
  /**
   * Blocks freed but held back from allocation until the metadata that
   * stops referencing them is committed (ext4's ext4_free_data entries on
   * s_freed_data_list): freed by `ino` after its snapshot `gen` was taken.
   */
  private deferred: { start: number; len: number; ino: number; gen: number }[] = [];

  constructor(
    private readonly firstBlock: number,
    private readonly nrBlocks: number,
    /** The filesystem's report of a free of blocks that are free (a kernel check: it does not return). */
    private readonly alreadyFree: (start: number, len: number) => never = (start, len) => {
      throw new Error(`block allocator: [${start}, +${len}) freed twice`);
    },
  ) {
    this.free = [{ start: firstBlock, len: nrBlocks - firstBlock }];
    this.freeBlocks = nrBlocks - firstBlock;
  }

  /**
   * Crash recovery: the free space is what the recovered metadata does not
   * reference (allocations that never committed are free again; frees that
   * never committed are not).
   */
  resetTo(used: readonly { start: number; len: number }[]): void {
    this.free = [{ start: this.firstBlock, len: this.nrBlocks - this.firstBlock }];
    this.freeBlocks = this.nrBlocks - this.firstBlock;
    this.deferred = [];
    for (const u of [...used].sort((a, b) => a.start - b.start)) this.take(u.start, u.len);
    this.checkFreeList();
  }

  /** The free runs are sorted, disjoint, non-empty, inside the device, and add up to freeBlocks. */
  private checkFreeList(): void {
    let end = this.firstBlock;
    let sum = 0;
    for (const r of this.free) {
      if (!(r.len > 0) || r.start < end || r.start + r.len > this.nrBlocks) {
        throw new Error(`block allocator: free run [${r.start}, +${r.len}) out of order or range`);
      }
      end = r.start + r.len;
      sum += r.len;
    }
    if (sum !== this.freeBlocks) throw new Error(`block allocator: ${sum} blocks in free runs, ${this.freeBlocks} counted`);
  }

  /** Remove [start, start+len) from the free runs. */
  private take(start: number, len: number): void {
    const end = start + len;
    const out: { start: number; len: number }[] = [];
    for (const r of this.free) {
      const rEnd = r.start + r.len;
      if (rEnd <= start || r.start >= end) {
        out.push(r);
        continue;
      }
      if (r.start < start) out.push({ start: r.start, len: start - r.start });
      if (rEnd > end) out.push({ start: end, len: rEnd - end });
      this.freeBlocks -= Math.min(rEnd, end) - Math.max(r.start, start);
    }
    this.free = out;
  }

  /** Allocate up to `want` contiguous blocks (at least 1); null when the disk is full. */
  alloc(want: number): { start: number; len: number } | null {
    const run = this.free[0];
    if (!run) return null;
    // First fit: prefer a run that holds the whole request.
    let pick = this.free.find((r) => r.len >= want) ?? run;
    const len = Math.min(want, pick.len);
    const got = { start: pick.start, len };
    pick.start += len;
    pick.len -= len;
    if (pick.len === 0) this.free.splice(this.free.indexOf(pick), 1);
    this.freeBlocks -= len;
    return got;
  }

  /**
   * Free blocks that the committed metadata of inode `ino` (as of its
   * snapshot `gen`, or an older one) still maps: they stay out of the free
   * runs until releaseCommitted says a newer snapshot of `ino` committed.
   */
  deferRelease(start: number, len: number, ino: number, gen: number): void {
    if (len > 0) this.deferred.push({ start, len, ino, gen });
  }

  /** A commit installed snapshot `gen` of inode `ino`: what it freed before that snapshot is free now. */
  releaseCommitted(ino: number, gen: number): void {
    const d = this.deferred;
    if (d.length === 0) return;
    let kept = 0;
    for (let i = 0; i < d.length; i++) {
      const e = d[i]!;
      if (e.ino === ino && e.gen < gen) this.release(e.start, e.len);
      else d[kept++] = e;
    }
    d.length = kept;
  }

  release(start: number, len: number): void {
    if (len <= 0) return;
    if (start < this.firstBlock || start + len > this.nrBlocks) throw new Error(`block allocator: freeing [${start}, +${len}) outside the device`);
    const f = this.free;
    let i = 0;
    while (i < f.length && f[i]!.start < start) i++;
    // The runs it lands between must end before it and start after it.
    const prev = f[i - 1];
    const next = f[i];
    if ((prev !== undefined && prev.start + prev.len > start) || (next !== undefined && next.start < start + len)) this.alreadyFree(start, len);
    f.splice(i, 0, { start, len });
    this.freeBlocks += len;
    // Coalesce with neighbours.
    if (i + 1 < f.length && f[i]!.start + f[i]!.len === f[i + 1]!.start) {
      f[i]!.len += f[i + 1]!.len;
      f.splice(i + 1, 1);
    }
    if (i > 0 && f[i - 1]!.start + f[i - 1]!.len === f[i]!.start) {
      f[i - 1]!.len += f[i]!.len;
      f.splice(i, 1);
    }
  }
}

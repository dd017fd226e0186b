// The page cache's two structures, which point at each other: struct folio
// (include/linux/mm_types.h, its flag bits from page-flags.h) and struct
// address_space with its operations (include/linux/fs.h, the AS_ and FGP_
// flags of pagemap.h, writeback_control of writeback.h). The functions that
// work on them live in mm/ (folio.ts, filemap.ts, truncate.ts); this file
// only defines them, so that everything above can share them without an
// import cycle.

import { type AliasCell, aliasCell } from '../alias.js';
import { poisonUnwritten, takeUnwrittenBytes } from '../byte-pool.js';
import { type BugSet, NO_BUGS } from '../bugs.js';
import { TAG_UNINIT, provenance } from '../provenance.js';
import type { Errseq } from '../errseq.js';
import { RwSem } from '../locks.js';
import { type Co, type Sched, WaitQueue } from '../sched.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export const PG_locked = 1 << 0;
export const PG_uptodate = 1 << 1;
export const PG_dirty = 1 << 2;
export const PG_writeback = 1 << 3;
/**
 * PG_error as kernels before 6.x used it for reads: set when a read of the
 * folio failed, cleared before the next ->read_folio. Only the bug switch
 * write-begin-read-not-uptodate (the 2020 code) ever sets it.
 */
export const PG_error = 1 << 4;

/** What the filesystem hangs off folio->private. iomap's is the iomap_folio_state. */
export interface FolioPrivate {
  readonly kind: 'ifs';
  /**
   * Asserts what the private state must agree with in a folio about to be
   * unlocked, where nothing may see it half-changed any more.
   */
  assertUnlocked(s: Sched, folio: Folio): void;
  /** Asserts what must hold of the private state as the folio's uptodate flag is cleared. */
  assertClearingUptodate(s: Sched, folio: Folio): void;
}

export class Folio {
  flags = 0;
  /** References: the page cache's own, plus lookups, ptes, and in-flight I/O. */
  refcount = 1;
  /** Page table entries mapping this folio. */
  mapcount = 0;
  private_: FolioPrivate | null = null;
  /** Who last read and changed its flags, ifs and data (alias coverage). */
  readonly alias: AliasCell = aliasCell();
  /** Null once the folio has been removed from the page cache. */
  mapping: AddressSpace | null;
  readonly data: Uint8Array;
  private wq: WaitQueue | null = null;
  private readonly pool: FolioPool;

  constructor(
    mapping: AddressSpace,
    /** Page index of the first page. */
    readonly index: number,
    readonly order: number,
  ) {
    this.mapping = mapping;
    this.pool = mapping.folioPool;
    // Like the page allocator, a new folio's memory is not zeroed: the page
    // cache code must zero or read every byte before it is exposed.
    this.data = this.pool.alloc(order);
    provenance()?.setTag(this.data, 0, this.data.length, TAG_UNINIT);
  }

  /** The last reference went: give the memory back. */
  free(): void {
    this.pool.free(this.order, this.data);
  }

  get size(): number {
    return PAGE_SIZE << this.order;
  }

  get nrPages(): number {
    return 1 << this.order;
  }

  /** File offset of the first byte: folio_pos(). */
  get pos(): number {
    return this.index * PAGE_SIZE;
  }

  waitQueue(): WaitQueue {
    return (this.wq ??= new WaitQueue('folio'));
  }

  /** Wake sleepers if anyone sleeps (folio_wake_bit). */
  wake(s: Sched): void {
    if (this.wq && this.wq.waiters.length > 0) s.wakeAll(this.wq);
  }
}

/**
 * Folio memory, recycled per order. Allocation order is a function of the
 * run, so reuse is deterministic; it saves the allocator and the GC most of
 * the cost of a page cache that churns.
 */
export class FolioPool {
  private readonly free_: Uint8Array[][] = [];

  /** Memory for a new folio: not zeroed, as the page allocator's is not (poisoned under FOLIOFUZZ_POISON). */
  alloc(order: number): Uint8Array {
    const reused = this.free_[order]?.pop();
    if (reused === undefined) return takeUnwrittenBytes(PAGE_SIZE << order);
    poisonUnwritten(reused);
    return reused;
  }

  free(order: number, data: Uint8Array): void {
    (this.free_[order] ??= []).push(data);
  }
}

export interface WritebackControl {
  /** WB_SYNC_ALL: wait for locked folios and for writeback already running. */
  syncAll: boolean;
  rangeStart: number;
  /** Inclusive last byte, as in the kernel. */
  rangeEnd: number;
}

/** The operations a filesystem gives its address_space (struct address_space_operations). */
export interface AddressSpaceOps {
  /** ->read_folio: start reading a locked folio; it is unlocked when the read ends. */
  readFolio(folio: Folio): Co<number>;
  /** ->dirty_folio: mark the folio (and its private state) dirty; true if it was clean. */
  dirtyFolio(folio: Folio): boolean;
  /** ->invalidate_folio: [offset, offset+len) of the folio is going away. */
  invalidateFolio(folio: Folio, offset: number, len: number): void;
  /** ->release_folio: drop private state so the folio can be freed; false to refuse. */
  releaseFolio(folio: Folio): boolean;
  /** ->writepages */
  writepages(mapping: AddressSpace, wbc: WritebackControl): Co<number>;
}

export const AS_EIO = 1 << 0;
export const AS_ENOSPC = 1 << 1;

export const FGP_LOCK = 1 << 0;
export const FGP_CREAT = 1 << 1;
export const FGP_WRITE = 1 << 2;

/** Unmaps a folio's ptes (unmap_mapping_folio); the filesystems pass it to truncation and invalidation. */
export type FolioUnmapper = (f: Folio) => void;

export class AddressSpace {
  /** Every page index a cached folio covers, to that folio. */
  readonly pages = new Map<number, Folio>();
  nrpages = 0;
  /** No cached page has an index above this (not tight). */
  maxIndex = -1;
  readonly wbErr: Errseq = { v: 0 };
  /**
   * mapping->invalidate_lock: held exclusive by whatever evicts page cache
   * before it changes the blocks under it (truncate, punch, collapse, zero
   * range), and shared by whatever adds folios and reads them in, so that a
   * read cannot bring back a folio from blocks about to be freed.
   */
  readonly invalidateLock = new RwSem('invalidate_lock');
  asFlags = 0;
  aops!: AddressSpaceOps;
  readonly folioPool = new FolioPool();
  /** page_mkclean: write-protect every pte mapping the folio; set by the mm layer. */
  mkclean: ((f: Folio) => void) | null = null;
  /** Told when direct I/O left stale page cache over [pos, pos+len) (dio_warn_stale_pagecache). */
  onStalePagecache: ((pos: number, len: number) => void) | null = null;
  /** Told when a direct write's invalidation before the write failed over [pos, pos+len): it falls back to buffered I/O. */
  onDioInvalidateFailed: ((pos: number, len: number) => void) | null = null;
  /** Told when mapping_set_error recorded a writeback error. */
  onSetError: (() => void) | null = null;
  /** unmap_mapping_folio: zap every pte of one folio; set by the mm layer. */
  unmapFolio: ((f: Folio) => void) | null = null;
  /** unmap_mapping_range over pages [first, last]: zap the ptes; set by the mm layer. */
  unmapPages: ((first: number, last: number) => void) | null = null;
  /** Cached bytes stored through a mapping past EOF, for the checks (post-eof-stores.ts). */
  postEofStores: number[] | null = null;
  /**
   * For the checks, not kernel state: i_size shrank to `size` (truncate_setsize),
   * freeing the blocks past it, and the page that straddles it stays mapped as
   * it was: the EOF its pte was made writable under is no higher now. Set by
   * the mm layer (Pte.mkwriteEof).
   */
  mkwriteShrunk: ((size: number) => void) | null = null;

  constructor(
    readonly sched: Sched,
    /** mapping_max_folio_order(). */
    readonly maxOrder: number,
    /** i_size of the host, read by the page cache for EOF decisions. */
    readonly iSize: () => number,
    /** The bug switches of this run, for the code paths of the bugs only. */
    readonly bugs: BugSet = NO_BUGS,
    /** mapping->host->i_ino (byte provenance names files by it). */
    readonly hostIno = 0,
  ) {}
}

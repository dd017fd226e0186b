// Shared file mappings (mm/memory.c, mm/filemap.c): VMAs with per-page ptes,
// read faults (filemap_fault), write faults through ->page_mkwrite
// (do_shared_fault, wp_page_shared), write-protection when writeback cleans a
// folio (page_mkclean), and pte removal when a folio is truncated
// (unmap_mapping_folio). Loads and stores go straight to folio memory, as a
// CPU's would.

import { offsetIn } from '../bits.js';
import { aliasRead, aliasWrite } from '../alias.js';
import { EFAULT, EINVAL } from '../errno.js';
import type { Co, Sched } from '../sched.js';
import { filemapGetUptodateFolio, orderForLength } from './filemap.js';
import { folioClass, folioGet, folioLock, folioPut, folioTestUptodate, folioUnlock } from './folio.js';
import { covSite, covState } from '../cov.js';
import { notePostEofStore } from './post-eof-stores.js';
import { provenance } from '../provenance.js';
import { type Folio, PAGE_SIZE } from '../include/pagemap.js';
import type { Inode, OpenFile } from '../include/fs.js';

const C_MKWRITE_FAULT = covSite('do_page_mkwrite');
const A_USER_LOAD = covSite('alias:user-load');
const A_USER_STORE = covSite('alias:user-store');
const C_FAULT = covSite('filemap_fault');

interface Pte {
  folio: Folio;
  writable: boolean;
  /**
   * Provenance for the checks, not kernel state: the file offset up to which
   * the ->page_mkwrite that made this pte writable saw the folio inside EOF
   * (folio.pos + the length folio_mkwrite_check_truncate returned), i.e. the
   * EOF the page was made writable under; folio.pos while no mkwrite ran.
   */
  mkwriteEof: number;
}

export interface Vma {
  readonly id: number;
  readonly file: OpenFile;
  /** File offset of the first byte (page aligned). */
  readonly start: number;
  readonly len: number;
  readonly write: boolean;
  /** Present ptes by page index. */
  readonly ptes: Map<number, Pte>;
}

export class MmState {
  private readonly vmas = new Map<number, Vma>();
  private readonly byInode = new Map<Inode, Set<Vma>>();

  constructor(private readonly sched: Sched) {}

  /** Wire the rmap hooks of an inode's mapping to this mm. */
  attachInode(inode: Inode): void {
    inode.mapping.mkclean = (f) => this.pageMkclean(inode, f);
    inode.mapping.unmapPages = (first, last) => this.unmapPages(inode, first, last);
    inode.mapping.unmapFolio = (f) => this.unmapFolio(inode, f);
    inode.mapping.mkwriteShrunk = (size) => this.mkwriteShrunk(inode, size);
  }

  /** The size shrank to `size`: the pte of the page straddling it keeps what page_mkwrite reserved below it only. */
  private mkwriteShrunk(inode: Inode, size: number): void {
    const set = this.byInode.get(inode);
    if (!set) return;
    for (const vma of set) {
      const pte = vma.ptes.get(Math.floor(size / PAGE_SIZE));
      if (pte && pte.mkwriteEof > size) pte.mkwriteEof = size;
    }
  }

  /** Zap every pte of the inode's pages [first, last]. */
  private unmapPages(inode: Inode, first: number, last: number): void {
    const set = this.byInode.get(inode);
    if (!set) return;
    for (const vma of set) {
      for (const [idx, pte] of vma.ptes) {
        if (idx < first || idx > last) continue;
        this.zapPte(pte);
        vma.ptes.delete(idx);
      }
    }
  }

  hasMappings(inode?: Inode): boolean {
    if (!inode) return this.vmas.size > 0;
    const set = this.byInode.get(inode);
    return set !== undefined && set.size > 0;
  }

  /** mmap(2): MAP_SHARED; offset must be page aligned and length non-zero. */
  mmap(id: number, file: OpenFile, off: number, len: number, write: boolean): number {
    if (off % PAGE_SIZE !== 0 || len <= 0 || off < 0) return -EINVAL;
    if (this.vmas.has(id)) this.munmap(id);
    const vma: Vma = { id, file, start: off, len, write, ptes: new Map() };
    this.vmas.set(id, vma);
    let set = this.byInode.get(file.inode);
    if (!set) this.byInode.set(file.inode, (set = new Set()));
    set.add(vma);
    return 0;
  }

  munmap(id: number): number {
    const vma = this.vmas.get(id);
    if (!vma) return -EINVAL;
    for (const pte of vma.ptes.values()) this.zapPte(pte);
    vma.ptes.clear();
    this.vmas.delete(id);
    this.byInode.get(vma.file.inode)?.delete(vma);
    return 0;
  }

  /** Process exit: every mapping goes. */
  unmapAll(): void {
    for (const id of [...this.vmas.keys()]) this.munmap(id);
  }

  vma(id: number): Vma | undefined {
    return this.vmas.get(id);
  }

  private zapPte(pte: Pte): void {
    pte.folio.mapcount--;
    folioPut(this.sched, pte.folio);
  }

  /** unmap_mapping_folio: remove every pte that maps the folio. */
  unmapFolio(inode: Inode, folio: Folio): void {
    const set = this.byInode.get(inode);
    if (!set) return;
    for (const vma of set) {
      for (let i = 0; i < folio.nrPages; i++) {
        const idx = folio.index + i;
        const pte = vma.ptes.get(idx);
        if (pte && pte.folio === folio) {
          this.zapPte(pte);
          vma.ptes.delete(idx);
        }
      }
    }
  }

  /** page_mkclean: write-protect the ptes of a folio so the next store faults. */
  private pageMkclean(inode: Inode, folio: Folio): void {
    const set = this.byInode.get(inode);
    if (!set) return;
    for (const vma of set) {
      for (let i = 0; i < folio.nrPages; i++) {
        const pte = vma.ptes.get(folio.index + i);
        if (pte && pte.folio === folio) pte.writable = false;
      }
    }
  }

  /** Is the page within the file (else SIGBUS)? */
  private pageInFile(inode: Inode, index: number): boolean {
    return index < Math.ceil(inode.iSize / PAGE_SIZE);
  }

  /**
   * filemap_fault + finish_fault for a read: an uptodate folio, mapped
   * read-only (the fs has page_mkwrite, so shared mappings start write-protected).
   */
  private *filemapFault(vma: Vma, index: number): Co<Pte | number> {
    const inode = vma.file.inode;
    for (;;) {
      if (!this.pageInFile(inode, index)) return -EFAULT;
      const remaining = vma.start + vma.len - index * PAGE_SIZE;
      const r = yield* filemapGetUptodateFolio(inode.mapping, index, orderForLength(remaining));
      if (typeof r === 'number') return r;
      const folio = r;
      yield* folioLock(this.sched, folio);
      // Raced with truncation: retry the fault.
      if (folio.mapping !== inode.mapping || !folioTestUptodate(folio)) {
        folioUnlock(this.sched, folio);
        folioPut(this.sched, folio);
        continue;
      }
      const pte = yield* this.finishFault(vma, index, folio);
      folioUnlock(this.sched, folio);
      if (pte === null) return -EFAULT;
      return pte;
    }
  }

  /**
   * The end of filemap_fault and finish_fault, under the folio lock: "We
   * must recheck i_size under page lock", then map the page (the lookup's
   * reference becomes the pte's) or drop the reference. null: SIGBUS.
   */
  private *finishFault(vma: Vma, index: number, folio: Folio): Co<Pte | null> {
    // filemap_fault drops invalidate_lock here when it had to read the folio:
    // a truncate or zero range waiting for it runs on another CPU while the
    // folio is still locked, and may meet it, even wholly past a new EOF.
    if (this.sched.preemptPoint()) yield;
    if (!this.pageInFile(vma.file.inode, index)) {
      folioPut(this.sched, folio);
      return null;
    }
    const existing = vma.ptes.get(index);
    if (existing) {
      folioPut(this.sched, folio);
      return existing;
    }
    folio.mapcount++;
    const pte: Pte = { folio, writable: false, mkwriteEof: folio.pos };
    vma.ptes.set(index, pte);
    return pte;
  }

  /** do_page_mkwrite + wp_page_shared: make a present pte writable after ->page_mkwrite. */
  private *writeFault(vma: Vma, index: number, pte: Pte): Co<number> {
    const folio = pte.folio;
    covState(C_MKWRITE_FAULT, folioClass(folio) | (folio.mapping ? 0 : 64));
    folioGet(folio);
    const ret = yield* vma.file.inode.fs.pageMkwrite(vma.file, folio);
    if (ret < 0) {
      folioPut(this.sched, folio);
      return ret;
    }
    // ->page_mkwrite returned with the folio locked; the pte may have been zapped meanwhile.
    const still = vma.ptes.get(index);
    if (still === pte && folio.mapping) {
      pte.writable = true;
      pte.mkwriteEof = folio.pos + ret;
    }
    folioUnlock(this.sched, folio);
    folioPut(this.sched, folio);
    return still === pte ? 0 : 1;
  }

  /** The pte of a page, faulted in (read-only) if it is not present; -errno for SIGBUS. */
  private *ptePresent(vma: Vma, index: number): Co<Pte | number> {
    const pte = vma.ptes.get(index);
    if (pte) return pte;
    covState(C_FAULT, vma.write ? 1 : 0);
    return yield* this.filemapFault(vma, index);
  }

  /** A load of len bytes at file offset off through the mapping (bytes past EOF in the last page read as they are). */
  *load(id: number, off: number, dst: Uint8Array): Co<number> {
    const vma = this.vmas.get(id);
    if (!vma) return -EINVAL;
    if (off < vma.start || off + dst.length > vma.start + vma.len) return -EFAULT;
    let done = 0;
    while (done < dst.length) {
      const p = off + done;
      const index = Math.floor(p / PAGE_SIZE);
      const pte = yield* this.ptePresent(vma, index);
      if (typeof pte === 'number') return pte;
      const n = Math.min(PAGE_SIZE - offsetIn(p, PAGE_SIZE), dst.length - done);
      const from = p - pte.folio.pos;
      aliasRead(pte.folio.alias, A_USER_LOAD);
      dst.set(pte.folio.data.subarray(from, from + n), done);
      provenance()?.copy(dst, done, pte.folio.data, from, n);
      done += n;
    }
    return done;
  }

  /**
   * Bytes the last store() wrote before it returned: on a fault (SIGBUS) the
   * stores to the pages before the faulting one have happened all the same.
   */
  lastStored = 0;

  /** A store of src at file offset off through the mapping. */
  *store(id: number, off: number, src: Uint8Array): Co<number> {
    this.lastStored = 0;
    const vma = this.vmas.get(id);
    if (!vma) return -EINVAL;
    if (!vma.write || off < vma.start || off + src.length > vma.start + vma.len) return -EFAULT;
    let done = 0;
    while (done < src.length) {
      const p = off + done;
      const index = Math.floor(p / PAGE_SIZE);
      const pte = yield* this.ptePresent(vma, index);
      if (typeof pte === 'number') return pte;
      if (!pte.writable) {
        const r = yield* this.writeFault(vma, index, pte);
        if (r < 0) return r;
        if (r > 0) continue; // the pte went away: fault again
      }
      const n = Math.min(PAGE_SIZE - offsetIn(p, PAGE_SIZE), src.length - done);
      const from = p - pte.folio.pos;
      aliasWrite(pte.folio.alias, A_USER_STORE);
      pte.folio.data.set(src.subarray(done, done + n), from);
      // A store from user space: no kernel function put these bytes there.
      provenance()?.mark(pte.folio.data, from, from + n, 'store', 'user-store');
      // Bytes stored at or past EOF are not file data: remembered for the
      // checks, which must accept them if a later extension exposes them
      // (post-eof-stores.ts). page_mkwrite reserved blocks only up to the EOF
      // it saw (folio_mkwrite_check_truncate), so these may lie over a hole.
      // That EOF, not i_size now, is the one the store is past: an extension
      // that does i_size_write while page_mkwrite holds the folio lock
      // (pagecache_isize_extended then waits for the lock to write-protect
      // the page) lets the store land inside the new EOF in a block nothing
      // reserved, and writeback winning the folio lock before
      // pagecache_isize_extended skips that hole. Only bytes past the blocks
      // the mkwrite covered count: pagecache_isize_extended leaves the pte
      // writable exactly when the extension stays inside those blocks
      // (to <= round_up(from, bsize), or that ends the page, or bsize >=
      // PAGE_SIZE), and stores there are file data.
      const inode = vma.file.inode;
      const bmask = (1 << inode.blkbits) - 1;
      const reserved = Math.floor((pte.mkwriteEof + bmask) / (bmask + 1)) * (bmask + 1);
      const eof = Math.min(inode.iSize, reserved);
      if (p + n > eof) notePostEofStore(inode.mapping, Math.max(p, eof), p + n);
      done += n;
      this.lastStored = done;
    }
    return done;
  }
}

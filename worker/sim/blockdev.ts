// The block device: 512-byte sectors behind a volatile write cache.
//
// A submitted bio completes later, as a scheduler event, so the order of
// completions is the scheduler's choice. A completed write is visible to later
// reads but is durable only after a flush (REQ_PREFLUSH) or when written with
// REQ_FUA; a power cut throws away everything that is not durable.

import { EIO } from './errno.js';
import { copyBytes, takeBytes, takeBytesToOverwrite } from './byte-pool.js';
import { TAG_NEVER, provenance } from './provenance.js';
import type { Sched, SimEvent } from './sched.js';
import { Rng } from './schedule.js';

export const SECTOR_SHIFT = 9;
export const SECTOR_SIZE = 1 << SECTOR_SHIFT;

export const enum BioOp {
  Read = 0,
  Write = 1,
  Flush = 2,
}

export interface Bio {
  op: BioOp;
  /** First sector. */
  sector: number;
  /** Read destination or write source; a whole number of sectors. Empty for a flush. */
  buf: Uint8Array;
  preflush: boolean;
  fua: boolean;
  /** 0 or a negative errno, set at completion. */
  status: number;
  /** Who submitted it, for traces: the kernel function. */
  owner: string;
  /** The file data it carries, when it carries file data: for fault bookkeeping. */
  file?: BioFile;
  endIo(bio: Bio): void;
}

export interface BioFile {
  ino: number;
  /** File offset of buf[0]. */
  pos: number;
  /** Page cache writeback (errors go to the mapping's errseq), else direct I/O or a read. */
  writeback: boolean;
}

/** A data I/O that failed: which file bytes it carried. */
export interface IoErrorReport {
  ino: number;
  pos: number;
  len: number;
  write: boolean;
  /** Page cache writeback: the error goes to the mapping's errseq. */
  writeback: boolean;
}

/**
 * Injected I/O errors: the (skip+1)-th data bio of a direction from now on
 * completes with -EIO and transfers nothing.
 */
export class FaultPlan {
  private readSkip = -1;
  private writeSkip = -1;
  /** The armed write fault is a short write where the I/O can be short (a fuse server's reply). */
  shortWrite = false;

  arm(write: boolean, skip: number, short = false): void {
    if (write) {
      this.writeSkip = skip;
      this.shortWrite = short;
    } else this.readSkip = skip;
  }

  /** Forget every armed fault (the program is over: what runs now is the harness's own I/O). */
  disarm(): void {
    this.readSkip = -1;
    this.writeSkip = -1;
    this.shortWrite = false;
  }

  /** Consume one data I/O of this direction; true if it is the one to fail. */
  take(write: boolean): boolean {
    if (write) {
      if (this.writeSkip < 0) return false;
      return this.writeSkip-- === 0;
    }
    if (this.readSkip < 0) return false;
    return this.readSkip-- === 0;
  }
}

const CHUNK_SHIFT = 16;
const CHUNK_SIZE = 1 << CHUNK_SHIFT;

/** Bytes addressed sparsely: chunks appear on first write, unwritten bytes read as zero. */
export class SparseStore {
  private readonly chunks = new Map<number, Uint8Array>();

  read(off: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const pos = off + done;
      const ci = Math.floor(pos / CHUNK_SIZE);
      const co = pos - ci * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - co, dst.length - done);
      const chunk = this.chunks.get(ci);
      if (chunk) {
        dst.set(chunk.subarray(co, co + n), done);
        provenance()?.copy(dst, done, chunk, co, n);
      } else {
        dst.fill(0, done, done + n);
        provenance()?.setTag(dst, done, done + n, TAG_NEVER);
      }
      done += n;
    }
  }

  write(off: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const pos = off + done;
      const ci = Math.floor(pos / CHUNK_SIZE);
      const co = pos - ci * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - co, src.length - done);
      let chunk = this.chunks.get(ci);
      if (!chunk) {
        chunk = takeBytes(CHUNK_SIZE);
        provenance()?.setTag(chunk, 0, CHUNK_SIZE, TAG_NEVER);
        this.chunks.set(ci, chunk);
      }
      chunk.set(src.subarray(done, done + n), co);
      const prov = provenance();
      if (prov) {
        prov.copy(chunk, co, src, done, n);
        prov.stored(src, done, done + n);
      }
      done += n;
    }
  }

  /** An independent copy of every byte. */
  clone(): SparseStore {
    const c = new SparseStore();
    const prov = provenance();
    for (const [i, chunk] of this.chunks) {
      const copy = copyBytes(chunk);
      prov?.copy(copy, 0, chunk, 0, chunk.length);
      c.chunks.set(i, copy);
    }
    return c;
  }

  /** Copy [off, off+len) from another store. */
  copyFrom(other: SparseStore, off: number, len: number, scratch: Uint8Array): void {
    for (let done = 0; done < len; ) {
      const n = Math.min(scratch.length, len - done);
      const view = scratch.subarray(0, n);
      other.read(off + done, view);
      this.write(off + done, view);
      done += n;
    }
  }
}

/**
 * What a power cut did: the sectors whose content after the cut is not
 * predictable from the flush history (written since the last flush, or in
 * flight), and how many of them reached the media.
 */
export interface PowerCutReport {
  /** Byte ranges [start, len, ...] of sectors that may hold old or new data, sector-aligned, in cut order. */
  uncertain: number[];
  /** Sectors of those that kept the new data. */
  survived: number;
  /** Sectors of those that lost it (the media kept the old data). */
  lost: number;
  /** In-flight bios that will now complete with -EIO without transferring anything. */
  aborted: number;
}

export class BlockDevice {
  /** What reads see: the media with the volatile cache on top. */
  private visible = new SparseStore();
  /** What survives a power cut. */
  private readonly durable = new SparseStore();
  /** Byte ranges [start, len, start, len, ...] written since the last flush. */
  private unflushed: number[] = [];
  /** What a flush copies through, taken at the first flush (many runs never flush). */
  private scratch: Uint8Array | null = null;
  /** Write bios submitted and not completed: a power cut tears them. */
  private readonly inflightWrites = new Set<Bio>();
  /** Bumped by each power cut; a bio submitted in an earlier epoch completes without effect. */
  private epoch = 0;
  inflight = 0;
  submitted = 0;
  readonly faults = new FaultPlan();
  /** Told about every data I/O that failed (fault bookkeeping of the executor); the fuse server reports here too. */
  onError: ((r: IoErrorReport) => void) | null = null;

  constructor(
    private readonly sched: Sched,
    readonly nrSectors: number,
  ) {}

  get sizeBytes(): number {
    return this.nrSectors * SECTOR_SIZE;
  }

  /** submit_bio: queue the bio; it completes as a scheduler event. */
  submitBio(bio: Bio): void {
    if (bio.buf.length % SECTOR_SIZE !== 0) throw new Error(`sim: bio of ${bio.buf.length} bytes is not whole sectors`);
    if (bio.sector < 0 || bio.sector + (bio.buf.length >> SECTOR_SHIFT) > this.nrSectors) {
      throw new Error(`sim: bio beyond the device: sector ${bio.sector} + ${bio.buf.length} bytes`);
    }
    this.inflight++;
    this.submitted++;
    if (bio.op === BioOp.Write) this.inflightWrites.add(bio);
    const dev = this;
    // Submitted to a device without power: it completes like a bio the cut caught in flight.
    const epoch = this.powered_ ? this.epoch : -1;
    const ev: SimEvent = {
      name: bio.owner,
      run(): void {
        if (epoch === dev.epoch) dev.completeBio(bio);
        else dev.abortBio(bio);
      },
    };
    this.sched.queueEvent(ev);
  }

  /**
   * False from a power cut until the filesystem's recovery mounts again: the
   * machine is dead, but the sim's threads still run and may submit I/O
   * (a flusher that was mid-writeback), which must not reach the media.
   */
  private powered_ = true;

  get powered(): boolean {
    return this.powered_;
  }

  /** Recovery starts: the device takes I/O again. */
  powerOn(): void {
    this.powered_ = true;
  }

  /** A bio that was in flight at a power cut: the device that took it is gone. */
  private abortBio(bio: Bio): void {
    this.inflightWrites.delete(bio);
    bio.status = -EIO;
    this.inflight--;
    bio.endIo(bio);
  }

  private completeBio(bio: Bio): void {
    this.inflightWrites.delete(bio);
    if (bio.preflush) this.flushCache();
    const off = bio.sector * SECTOR_SIZE;
    if (bio.op !== BioOp.Flush && bio.buf.length > 0 && this.faults.take(bio.op === BioOp.Write)) {
      bio.status = -EIO;
      this.inflight--;
      if (bio.file) {
        const f = bio.file;
        this.onError?.({ ino: f.ino, pos: f.pos, len: bio.buf.length, write: bio.op === BioOp.Write, writeback: f.writeback });
      }
      bio.endIo(bio);
      return;
    }
    if (bio.op === BioOp.Read) {
      this.visible.read(off, bio.buf);
      // What the bio's owner reads becomes the reader's bytes: a read of what the device held.
      provenance()?.derive(bio.buf, 0, bio.buf.length, bio.owner);
    } else if (bio.op === BioOp.Write) {
      this.visible.write(off, bio.buf);
      if (bio.fua) this.durable.write(off, bio.buf);
      else this.unflushed.push(off, bio.buf.length);
    }
    bio.status = 0;
    this.inflight--;
    bio.endIo(bio);
  }

  /** The cache flush a REQ_PREFLUSH (or an empty flush bio) performs. */
  private flushCache(): void {
    const u = this.unflushed;
    if (u.length === 0) return;
    // copyFrom reads into it before it writes from it.
    this.scratch ??= takeBytesToOverwrite(CHUNK_SIZE);
    for (let i = 0; i < u.length; i += 2) this.durable.copyFrom(this.visible, u[i]!, u[i + 1]!, this.scratch);
    this.unflushed = [];
  }

  /**
   * Power cut: each sector written since the last flush reached the media or
   * not, and each sector of an in-flight write landed or not (a torn write at
   * sector granularity), chosen deterministically from the seed. Then the
   * volatile cache is gone: what reads see is the media. In-flight bios
   * complete later with -EIO and transfer nothing.
   */
  powerCut(seed: number): PowerCutReport {
    const rng = new Rng(seed);
    const report: PowerCutReport = { uncertain: [], survived: 0, lost: 0, aborted: this.inflightWrites.size };
    const sector = new Uint8Array(SECTOR_SIZE);
    const tear = (off: number, len: number, src: (o: number, dst: Uint8Array) => void): void => {
      report.uncertain.push(off, len);
      for (let o = off; o < off + len; o += SECTOR_SIZE) {
        if (rng.int(2) === 0) {
          report.lost++;
          continue;
        }
        src(o, sector);
        this.durable.write(o, sector);
        report.survived++;
      }
    };
    const u = this.unflushed;
    for (let i = 0; i < u.length; i += 2) tear(u[i]!, u[i + 1]!, (o, dst) => this.visible.read(o, dst));
    for (const bio of this.inflightWrites) {
      const base = bio.sector * SECTOR_SIZE;
      tear(base, bio.buf.length, (o, dst) => {
        dst.set(bio.buf.subarray(o - base, o - base + SECTOR_SIZE));
        provenance()?.copy(dst, 0, bio.buf, o - base, SECTOR_SIZE);
      });
    }
    this.unflushed = [];
    this.inflightWrites.clear();
    this.epoch++;
    this.powered_ = false;
    this.visible = this.durable.clone();
    return report;
  }

  /** The flush a clean unmount ends with, done at once (no bio): everything completed is durable. */
  syncCache(): void {
    this.flushCache();
  }

  /** Read durable-or-cached bytes directly, for remount-time metadata and checks. */
  readVisible(off: number, dst: Uint8Array): void {
    this.visible.read(off, dst);
  }

  readDurable(off: number, dst: Uint8Array): void {
    this.durable.read(off, dst);
  }
}

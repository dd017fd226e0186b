// The oracle's model of a run: what the program's files must hold (a shadow
// per file), the open file descriptions with their error cursors, the
// mappings, the AIOs in flight, and the clocks that tell which ops overlapped.
// It is built from the program and the trace's events alone (trace/types.ts):
// no simulated kernel object is ever looked at, so the same model follows a
// real kernel's run.

import type { InvariantKind } from '../report/signature.js';
import type { Op, Program } from '../prog/types.js';
import type { ByteRanges, TraceEvent } from '../trace/types.js';
import { DurableFile, type StableCapture } from './durability.js';
import { type FsSemantics, fsSemantics } from './fs-semantics.js';
import { mayCollide } from './program-facts.js';
import { OwnWrites } from './own-writes.js';
import { ShadowFile, type WriterKind } from './shadow.js';

/** Who put a byte where the model has it: op i of thread t (-1: nobody, the empty file), and as what. */
export interface Writer {
  t: number;
  i: number;
  kind: WriterKind;
}

/**
 * A read returned a byte the file cannot hold there: what the data checks
 * hand to `raise` so that the finding can be named by its cause (who wrote
 * the byte the reader should have seen, and what replaced it: the sim knows
 * that, a kernel's trace does not).
 */
export interface DataFault {
  file: number;
  /** File offset of the first wrong byte. */
  pos: number;
  /** The byte read, and the byte expected (-1: none, past the end). */
  got: number;
  want: number;
  /** Who wrote what the reader should have seen; null when the model does not know. */
  expected: Writer | null;
  /** The event whose data holds the wrong byte, and its index there. */
  seen: { ev: TraceEvent; index: number };
  /** Cache against disk (several threads): where the page cache showed the byte the disk lost. */
  cached?: { ev: TraceEvent; index: number };
}

/** A read of the file came back short or failed: no byte to follow, but the sim may know the failure's cause. */
export interface ShortFault {
  file: number;
  short: true;
}

/** Raise a violation of `invariant` at kernel function `fn`: never returns. A wrong byte or a short read comes with its fault. */
export type Raise = (kind: InvariantKind, invariant: string, fn: string, detail: string, fault?: DataFault | ShortFault) => never;

/** An open file description (struct file): which file, O_DIRECT, and how many of the file's errors it was told of. */
export interface Description {
  file: number;
  direct: boolean;
  cursor: number;
}

/** A page cache write of the program (mapped: a store through a mapping), on the op clock. */
export interface CacheWrite {
  file: number;
  a: number;
  b: number;
  start: number;
  end: number;
  mapped: boolean;
}

/** An AIO the program submitted, from submission until its completion is applied. */
export interface InflightAio {
  /** The op that submitted it: thread and index. */
  t: number;
  i: number;
  write: boolean;
  off: number;
  len: number;
  fill: number;
  file: number;
  shadow: ShadowFile;
  /** Completed, and its effect applied to (or checked against) the shadow. */
  done: boolean;
  /** shadow.version at submission. */
  submitVersion: number;
  /** The program changed the file while this write was in flight: the outcome depends on the race. */
  conflicted: boolean;
  /** The op during which it completed: a read in that op may have seen either side. */
  completedInOp: number;
  /** Its completion's result. */
  result: number;
  /** The size its completion grew the file from, or -1: it did not grow it. */
  grewFrom: number;
  /** Op clock at submission of a direct write (for stale page cache judgement), else -1. */
  directStart: number;
}

/** What a copy_range op captured of its source as it began. */
export interface CopySource {
  src: Uint8Array;
  srcUnknown: Uint8Array | null;
  racing: boolean;
  countBefore: number;
}

/** What an fsync-like op knew as it began. */
export interface SyncStart {
  desc: Description;
  pendingAtStart: boolean;
  cutsAtStart: number;
}

/** The op a program thread has under way (kept after it ends, until the next). */
export interface ThreadOp {
  op: Op;
  /** Op clock when it began. */
  start: number;
  writes: CacheWrite[];
  /** failedInOp's length when it began. */
  failedBefore: number;
  /** The file an fsync of a sequential program with power cuts makes durable, as it began. */
  syncFrom: StableCapture | null;
  /** A synchronous direct write: its file and op clock at its start, else -1. */
  directFile: number;
  directStart: number;
  copy: CopySource | null;
  sync: SyncStart | null;
}

/** Per file: writeback errors recorded so far, and whether an opener saw the latest. */
export interface ErrEvents {
  count: number;
  latestSeen: boolean;
}

export class Model {
  readonly fs: FsSemantics;
  readonly shadows: ShadowFile[];
  /** The description each fd slot holds now. */
  readonly fds: Description[];
  /** Every description ever opened (mappings keep theirs). */
  readonly descriptions: Description[] = [];
  readonly maps = new Map<number, Description>();
  /** Submitted AIO by iocb id, until aio_wait collects it (a reused id replaces the entry). */
  readonly aio = new Map<number, InflightAio>();
  /** Every submission by its op, "t:i", until it completes. */
  readonly submissions = new Map<string, InflightAio>();
  /** With several threads the order of effects is the schedule's: the shadow cannot follow it. */
  readonly checkReads: boolean;
  /** With several threads: read-your-writes over bytes no other thread may change. */
  readonly own: OwnWrites | null;
  /** Per file, what a power cut may leave (programs with a power_cut op only; judged when sequential). */
  readonly durable: DurableFile[] | null;
  /** Ops started so far (by any thread). */
  opCount = 0;
  /** A logical clock: ticks at every op start and end, in any thread. */
  clock = 0;
  /** Whether the op started last may change file contents (sequential programs). */
  opInProgressWrites = false;
  readonly threadOps: (ThreadOp | undefined)[];
  /** The program's page cache writes, on the op clock (end Infinity while running). */
  readonly cacheWrites: CacheWrite[] = [];
  /** Per file, the op clock at the start of each direct write still in flight. */
  readonly directStarts: number[][];
  readonly errEvents: ErrEvents[];
  /** Per file: a writeback error is recorded on the mapping (nothing clears it but a power cut). */
  readonly wbErr: boolean[];
  /** Write failures since ops began (re-applied to the shadow when the op ends). */
  readonly failedInOp: { file: number; pos: number; len: number }[] = [];
  /** The op during which a read I/O last failed. */
  readFailedInOp = -1;
  /** Per file: byte ranges where the cache may show what the disk lacks (failed writes, stale page cache). */
  readonly failedWrites: ([number, number][] | undefined)[];
  /** A WRITE the server did not take whole happened on the file (fuse): stores may land in folios that are not uptodate. */
  readonly unsettled: boolean[];
  /** Power cut edges so far, and how many are under way. */
  powerCuts = 0;
  cutting = 0;
  /** Per file (a kernel's trace only): a stale page cache error may be recorded with no `stale` event (collisions.ts mayCollide). */
  readonly silentErrors: boolean[];
  /** Per file, the last posteof hint (SIM ONLY), [] when none. */
  readonly postEof: ByteRanges[];
  /** Per file, what the final read through the page cache returned (its event), and the unzeroed stores past EOF it may show. */
  readonly cached: ({ data: Uint8Array; postEof: ByteRanges; ev: TraceEvent } | undefined)[];
  /** Every writer the shadows name, by id; 0 is nobody (bytes of an empty file). */
  readonly writers: Writer[] = [{ t: -1, i: -1, kind: 'zero' }];
  private readonly writerIds = new Map<string, number>();
  /** The id writerOf returned last. */
  private lastWriter = 0;
  /** The op whose effect the event being observed applies: thread and index (the oracle sets it). */
  applying: { t: number; i: number } = { t: -1, i: -1 };

  constructor(
    readonly program: Program,
    /** The trace carries the SIM ONLY events: their absence means "none", not "unknown". */
    readonly hints: boolean,
  ) {
    this.fs = fsSemantics(program.config);
    const n = program.files.length;
    const keeps = this.fs.growthKeepsPostEofStores || !hints;
    const writer = (kind: WriterKind): number => this.writerOf(kind);
    this.shadows = program.files.map((_f, file) => new ShadowFile(keeps, keeps ? null : (from, to) => this.postEofIn(file, from, to), writer));
    this.fds = program.fds.map((d) => this.openDescription(d.file, d.direct, 0));
    this.checkReads = program.threads.length === 1;
    this.own = this.checkReads ? null : new OwnWrites(program);
    const cuts = program.threads.some((t) => t.ops.some((o) => o.op === 'power_cut'));
    this.durable = cuts ? program.files.map(() => new DurableFile()) : null;
    this.threadOps = program.threads.map(() => undefined);
    this.directStarts = Array.from({ length: n }, () => []);
    this.errEvents = Array.from({ length: n }, () => ({ count: 0, latestSeen: true }));
    this.wbErr = new Array<boolean>(n).fill(false);
    this.failedWrites = new Array<[number, number][] | undefined>(n).fill(undefined);
    this.unsettled = new Array<boolean>(n).fill(false);
    this.postEof = Array.from({ length: n }, () => []);
    this.silentErrors = hints ? new Array<boolean>(n).fill(false) : mayCollide(program);
    this.cached = new Array<{ data: Uint8Array; postEof: ByteRanges; ev: TraceEvent } | undefined>(n).fill(undefined);
  }

  /** The writer id of the op being applied, writing bytes of `kind`. */
  private writerOf(kind: WriterKind): number {
    const { t, i } = this.applying;
    // An op's writes come in runs: the last writer asked for is most often the one asked for again.
    const last = this.writers[this.lastWriter]!;
    if (last.t === t && last.i === i && last.kind === kind) return this.lastWriter;
    const key = `${t}:${i}:${kind}`;
    let id = this.writerIds.get(key);
    if (id === undefined) {
      id = this.writers.length;
      this.writers.push({ t, i, kind });
      this.writerIds.set(key, id);
    }
    this.lastWriter = id;
    return id;
  }

  /** Who wrote byte pos of the file, as the model has it. */
  writerAt(file: number, pos: number): Writer {
    return this.writers[this.shadows[file]!.writerAt(pos)]!;
  }

  openDescription(file: number, direct: boolean, cursor: number): Description {
    const d = { file, direct, cursor };
    this.descriptions.push(d);
    return d;
  }

  fileOfFd(fd: number): number {
    return this.program.fds[fd]!.file;
  }

  shadowOfFd(fd: number): ShadowFile {
    return this.shadows[this.fileOfFd(fd)]!;
  }

  /** The file a mapping maps now, or -1. */
  fileOfMap(map: number): number {
    return this.maps.get(map)?.file ?? -1;
  }

  /** The parts of [from, to) of the file that hold unzeroed stores past EOF, per the last hint. */
  private postEofIn(file: number, from: number, to: number): [number, number][] {
    const out: [number, number][] = [];
    for (const [a, b] of this.postEof[file]!) {
      const lo = Math.max(a, from);
      const hi = Math.min(b, to);
      if (lo < hi) out.push([lo, hi]);
    }
    return out;
  }

  /** Bytes where the page cache may legitimately differ from the disk from now on. */
  noteCacheDiskSplit(file: number, pos: number, len: number): void {
    const failed = this.failedWrites[file] ?? [];
    failed.push([pos, pos + len]);
    this.failedWrites[file] = failed;
  }

  /** A writeback error was recorded for the file (mapping_set_error). */
  recordError(file: number): void {
    const e = this.errEvents[file]!;
    e.count++;
    e.latestSeen = false;
  }

  /** Invalidation works on whole folios: [lo, hi) of the folios (at most folioMax) around [pos, pos+len). */
  folioSpan(pos: number, len: number): [number, number] {
    const fs = this.program.config.folioMax;
    return [Math.floor(pos / fs) * fs, Math.ceil((pos + len) / fs) * fs];
  }
}

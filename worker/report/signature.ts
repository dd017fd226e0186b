// Signatures: the one place a finding's name is built and read back
// (syzkaller's pkg/report). Two findings are the same bug iff their
// signatures are equal, so a signature holds nothing that varies between two
// runs of one bug: no offsets, sizes, thread ids or step counts, and nothing
// that only says how the run got there. It names the cause where the sim
// knows it.
//
//   <KIND> <invariant> @ <function>   WARN, BUG, INVARIANT: the check and the kernel
//                                     function it fired in; the callers that led
//                                     there are context (the message, the stacks)
//   DATA <class> <expected> <- <how> @ <function>
//                                     a read returned bytes the file cannot hold:
//                                     whose bytes it should have seen, and what
//                                     replaced them where (DataCause)
//   DATA <invariant> @ <function>     a data check with no byte to follow (a read
//                                     that failed or came back short, a size)
//   DIVERGENCE <op>:<what> @ <fs>     a real kernel and the sim (every switch off) differ
//   DEADLOCK <wait>-><wait>...        the wait-for cycle, rotated to its smallest name
//   DEADLOCK <wait>,<wait>...         every thread blocked, no cycle: the waits, sorted
//   LIVELOCK step-budget              no progress within the step budget
//
// Version 2 (foliofuzz-sim/9). Version 1 named every check by its site with
// its caller ("WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range")
// and DATA findings by the read that saw them ("DATA pread:mismatch @ ksys_pread64");
// parseSignature still reads those, and bugKey() groups an old WARN, BUG or
// INVARIANT with the new one it became.

import { createHash } from 'node:crypto';

/** The class of a violation, the first word of a signature. */
export type InvariantKind =
  | 'WARN' // a WARN_ON the kernel has at this site
  | 'BUG' // a BUG_ON / VM_BUG_ON the kernel has at this site
  | 'INVARIANT' // a state invariant the sim checks beyond the kernel's own
  | 'DATA' // the data oracle: a read returned bytes the model does not hold
  | 'DEADLOCK'
  | 'LIVELOCK'
  | 'DIVERGENCE'; // the kernel twin: a real kernel did what the sim (every switch off) does not

export const INVARIANT_KINDS: readonly InvariantKind[] = ['WARN', 'BUG', 'INVARIANT', 'DATA', 'DEADLOCK', 'LIVELOCK', 'DIVERGENCE'];

/** The signature format this build writes (documented in README.md, "Reading a signature"). */
export const SIGNATURE_VERSION = 2;

/**
 * What a DATA finding's signature says of its cause. `expected` is the way
 * the bytes the reader should have seen came: `write` (through the page
 * cache: write(2), copy_file_range, a store through a mapping), `dio` (a
 * direct write), or the zeroes an op implies (`extend`, `truncate`,
 * `punch`, `zero-range`, `insert`), or `recovered` (what crash recovery
 * left). `how` is what the reader got instead, by the kernel path in `fn`.
 */
export interface DataCause {
  /** lost-write: a later kernel path undid the write; stale: what shows is older than it; lost-zero: zeroes the op implied were undone. */
  cls: 'lost-write' | 'stale' | 'lost-zero' | 'mismatch';
  expected: string;
  how: string;
  fn: string;
}

/** What a signature says, read back. */
export interface SignatureParts {
  kind: InvariantKind;
  /** The invariant id ("ifs_free:ifs-not-uptodate"), for DEADLOCK the waits, for LIVELOCK "step-budget", for a DATA cause "<class> <expected> <- <how>". */
  invariant: string;
  /** The kernel frames where it fired, innermost first (one since version 2); empty for DEADLOCK and LIVELOCK. */
  site: string[];
  /** A DATA finding named by its cause. */
  cause?: DataCause;
  /** The signature format it was written in: 1 (callers in the site, DATA by observer) or 2. */
  version: 1 | 2;
}

/**
 * Sites whose caller is part of the key, because the one check there catches
 * failures of different kinds depending on where it runs: the stale page
 * cache warning after a direct write fires in the submitter when the write
 * completed synchronously (iomap_dio_rw) and in the completion workqueue
 * when it completed asynchronously, two different windows for the cache to
 * be dirtied in (measured: BENCHMARKS.md, "Signatures per bug").
 */
const KEYED_WITH_CALLER: ReadonlySet<string> = new Set(['dio_warn_stale_pagecache']);

/**
 * A check that fired at `site` (frames innermost first, "ifs_free<-truncate_inode_pages_range"):
 * "WARN ifs_free:ifs-not-uptodate @ ifs_free". The callers are context, not
 * key, except at the sites of KEYED_WITH_CALLER.
 */
export function checkSignature(kind: InvariantKind, invariant: string, site: string): string {
  const frames = site.split('<-');
  const key = KEYED_WITH_CALLER.has(frames[0]!) ? frames.slice(0, 2).join('<-') : frames[0]!;
  return `${kind} ${invariant} @ ${key}`;
}

/** A DATA finding named by its cause: "DATA lost-write write <- zeroed @ iomap_writeback_handle_eof". */
export function dataSignature(c: DataCause): string {
  return `DATA ${c.cls} ${c.expected} <- ${c.how} @ ${c.fn}`;
}

/** Join a site's frames, innermost first. */
export function siteName(frames: readonly string[]): string {
  return frames.join('<-');
}

/**
 * A deadlock: with a wait-for cycle, the waits around it starting at the
 * smallest name (which thread is listed first is an accident of the run);
 * without one, every distinct wait, sorted.
 */
export function deadlockSignature(waits: readonly string[], cycle: boolean): string {
  if (!cycle) return `DEADLOCK ${[...new Set(waits)].sort().join(',')}`;
  let k = 0;
  for (let i = 1; i < waits.length; i++) if (waits[i]! < waits[k]!) k = i;
  return `DEADLOCK ${[...waits.slice(k), ...waits.slice(0, k)].join('->')}`;
}

export const LIVELOCK_SIGNATURE = 'LIVELOCK step-budget';

/**
 * A real kernel and the sim differ on a sequential program: which op (or
 * `final`), what about it (`ret`, `bytes`, `size`, `contents-cache`,
 * `contents-disk`), on which filesystem (`xfs`, `ext4`, `ext4-indirect`,
 * `fuse`). "DIVERGENCE fallocate:ret @ fuse".
 */
export function divergenceSignature(op: string, what: string, fs: string): string {
  return `DIVERGENCE ${op}:${what} @ ${fs}`;
}

const CAUSE_CLASSES: readonly DataCause['cls'][] = ['lost-write', 'stale', 'lost-zero', 'mismatch'];
const WORD = /^[A-Za-z0-9_.:-]+$/;

/**
 * Read a signature back into its parts, in either version; null for a
 * string that is not one.
 */
export function parseSignature(sig: string): SignatureParts | null {
  const sp = sig.indexOf(' ');
  if (sp <= 0) return null;
  const kind = sig.slice(0, sp) as InvariantKind;
  if (!INVARIANT_KINDS.includes(kind)) return null;
  const rest = sig.slice(sp + 1);
  if (kind === 'DEADLOCK' || kind === 'LIVELOCK') return rest ? { kind, invariant: rest, site: [], version: 2 } : null;
  const at = rest.lastIndexOf(' @ ');
  if (at <= 0) return null;
  const site = rest.slice(at + 3).split('<-');
  if (site.some((f) => f === '')) return null;
  const invariant = rest.slice(0, at);
  const cause = kind === 'DATA' ? parseCause(invariant, site) : null;
  if (cause) return { kind, invariant, site, cause, version: 2 };
  // Version 1: a site with callers; a DATA finding named by the read that saw it ("pread:mismatch").
  const v1 = (site.length > 1 && !KEYED_WITH_CALLER.has(site[0]!)) || (kind === 'DATA' && /:(mismatch|own-write-lost)$/.test(invariant));
  return { kind, invariant, site, version: v1 ? 1 : 2 };
}

function parseCause(invariant: string, site: string[]): DataCause | null {
  const m = /^(\S+) (\S+) <- (\S+)$/.exec(invariant);
  if (!m || site.length !== 1) return null;
  const cls = m[1] as DataCause['cls'];
  if (!CAUSE_CLASSES.includes(cls) || !WORD.test(m[2]!) || !WORD.test(m[3]!)) return null;
  return { cls, expected: m[2]!, how: m[3]!, fn: site[0]! };
}

/**
 * The key findings are grouped by as one bug: the signature itself, except
 * that a version 1 WARN, BUG or INVARIANT (a site with callers) is keyed by
 * its innermost function, as version 2 names it. A version 1 DATA signature
 * named no cause: it stays a group of its own.
 */
export function bugKey(sig: string): string {
  const p = parseSignature(sig);
  if (p && p.version === 2) return renamedSince(p) ?? sig;
  if (!p || p.kind === 'DATA' || p.site.length <= 1) return sig;
  return checkSignature(p.kind, p.invariant, p.site.join('<-'));
}

/** Sites the errseq checks fired at before foliofuzz-sim/10: the call, now the check every call reaches. */
const ERRSEQ_CALLS: ReadonlySet<string> = new Set(['vfs_fsync_range', 'file_fdatawait_range']);

/**
 * A format 2 signature written before a rename within the format
 * (foliofuzz-sim/9 and /10), as this build writes it: the errseq checks keyed
 * by the call (`@ vfs_fsync_range`) and rereads by the bio completion
 * (`reread @ iomap_read_end_io`) or as a hole (`hole @ ...`). A power-cut
 * verdict keyed by the filesystem's recovery (`@ xlog_recover`) cannot be
 * renamed (which call made the bytes durable was not recorded): it stays a
 * group of its own. Null when the signature is current.
 */
function renamedSince(p: SignatureParts): string | null {
  const fn = p.site[0]!;
  if ((p.invariant === 'fsync:error-lost' || p.invariant === 'fsync:spurious-error') && ERRSEQ_CALLS.has(fn)) {
    return checkSignature(p.kind, p.invariant, 'file_check_and_advance_wb_err');
  }
  const c = p.cause;
  if (!c || (c.how !== 'hole' && !(c.how === 'reread' && fn === 'iomap_read_end_io'))) return null;
  const readFn = fn === 'iomap_read_end_io' ? 'iomap_read_folio_iter' : fn;
  return dataSignature({ ...c, how: 'reread', fn: readFn });
}

/** Items grouped by the bug their signatures name (bugKey), bugs in the order first met, items in their order. */
export function groupByBug<T>(items: readonly T[], signatureOf: (t: T) => string): { key: string; items: T[] }[] {
  const groups = new Map<string, T[]>();
  for (const it of items) {
    const key = bugKey(signatureOf(it));
    const g = groups.get(key);
    if (g) g.push(it);
    else groups.set(key, [it]);
  }
  return [...groups].map(([key, list]) => ({ key, items: list }));
}

/** The id of a finding: a hash of its signature, so one bug lands in one place in every campaign. */
export function findingId(signature: string): string {
  return createHash('sha256').update(signature).digest('hex').slice(0, 12);
}

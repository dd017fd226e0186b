// Signatures: the one place a finding's name is built and read back
// (syzkaller's pkg/report). Two findings are the same bug iff their
// signatures are equal, so a signature holds nothing that varies between two
// runs of one bug: no offsets, sizes, thread ids or step counts.
//
//   <KIND> <invariant> @ <site>       WARN, BUG, INVARIANT, DATA
//   DIVERGENCE <op>:<what> @ <fs>     a real kernel and the sim (every switch off) differ
//   DEADLOCK <wait>-><wait>...        the wait-for cycle, rotated to its smallest name
//   DEADLOCK <wait>,<wait>...         every thread blocked, no cycle: the waits, sorted
//   LIVELOCK step-budget              no progress within the step budget
//
// A site is the kernel function where the check fired and, when it differs,
// the caller it fired under ("ifs_free<-truncate_inode_pages_range").

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

/** What a signature says, read back. */
export interface SignatureParts {
  kind: InvariantKind;
  /** The invariant id ("ifs_free:uptodate-mismatch"), or for DEADLOCK the waits, for LIVELOCK "step-budget". */
  invariant: string;
  /** The kernel frames where it fired, innermost first; empty for DEADLOCK and LIVELOCK. */
  site: string[];
}

/** A check that fired at a site: "WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range". */
export function checkSignature(kind: InvariantKind, invariant: string, site: string): string {
  return `${kind} ${invariant} @ ${site}`;
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

/** Read a signature back into its parts; null for a string that is not one. */
export function parseSignature(sig: string): SignatureParts | null {
  const sp = sig.indexOf(' ');
  if (sp <= 0) return null;
  const kind = sig.slice(0, sp) as InvariantKind;
  if (!INVARIANT_KINDS.includes(kind)) return null;
  const rest = sig.slice(sp + 1);
  if (kind === 'DEADLOCK' || kind === 'LIVELOCK') return rest ? { kind, invariant: rest, site: [] } : null;
  const at = rest.indexOf(' @ ');
  if (at <= 0) return null;
  const site = rest.slice(at + 3).split('<-');
  if (site.some((f) => f === '')) return null;
  return { kind, invariant: rest.slice(0, at), site };
}

/** The id of a finding: a hash of its signature, so one bug lands in one place in every campaign. */
export function findingId(signature: string): string {
  return createHash('sha256').update(signature).digest('hex').slice(0, 12);
}

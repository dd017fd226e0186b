// Invariant violations. A check that fails throws a Violation, which ends the
// run: the first violation is the finding. The signature names the invariant
// and the kernel function where it fired, and nothing that varies between two
// runs of the same bug (no offsets, sizes, thread ids or step counts, nor the
// callers that happened to lead there, which the message keeps as context),
// so that triage can deduplicate on it. Nothing here knows which bug switches
// are on.

import { type InvariantKind, checkSignature, siteName } from '../report/signature.js';
import type { ThreadStack } from '../report/violation.js';
import type { Sched, SimThread } from './sched.js';

export class Violation extends Error {
  constructor(
    readonly kind: InvariantKind,
    /** Stable invariant id, e.g. "ifs_free:uptodate-mismatch". */
    readonly invariant: string,
    /** Caller chain of the site, innermost first, e.g. "iomap_invalidate_folio<-truncate_inode_pages_range". */
    readonly site: string,
    readonly detail: string,
    readonly stacks: ThreadStack[],
    /** Built by report/signature.ts: the check and the innermost function of the site, or a DATA finding's cause. */
    readonly signature: string = checkSignature(kind, invariant, site),
  ) {
    super(`${kind} ${invariant} @ ${site}: ${detail}`);
    this.name = 'Violation';
  }
}

/** How many frames of the current stack the message names the site by (the signature: the first). */
const SITE_DEPTH = 2;

export function siteOf(t: SimThread | null, innermost: string): string {
  const parts = [innermost];
  if (t) {
    const f = t.frames;
    for (let i = f.length - 1; i >= 0 && parts.length < SITE_DEPTH; i--) {
      if (f[i] !== innermost) parts.push(f[i]!);
    }
  }
  return siteName(parts);
}

export function stacksOf(s: Sched): ThreadStack[] {
  return s.threads.map((t) => ({ thread: t.name, frames: [...t.frames] }));
}

/** Raise a violation at `fn`, a kernel function name, with the current thread's callers. */
export function violation(s: Sched, kind: InvariantKind, invariant: string, fn: string, detail: string): never {
  throw new Violation(kind, invariant, siteOf(s.current, fn), detail, stacksOf(s));
}

/**
 * A WARN_ON that fired at fn: the kernel's own warning, fatal for the run.
 * Hot paths write `if (cond) warn(...)` so that the detail string is only
 * built when the warning fires.
 */
export function warn(s: Sched, invariant: string, fn: string, detail: string): never {
  violation(s, 'WARN', invariant, fn, detail);
}

/** WARN_ON_ONCE(cond) at fn, for a constant detail. */
export function warnOn(s: Sched, cond: boolean, invariant: string, fn: string, detail: string): void {
  if (cond) violation(s, 'WARN', invariant, fn, detail);
}

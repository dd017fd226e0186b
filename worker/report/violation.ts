// What a run reports when a check fires: plain data, the same whether the
// check fired in the sim or judged a real kernel's trace.

import type { InvariantKind } from './signature.js';

export interface ThreadStack {
  thread: string;
  frames: string[];
}

export interface RunViolation {
  /** Built by signature.ts, never by hand. */
  signature: string;
  invariant: string;
  kind: InvariantKind;
  message: string;
  /** Every thread's kernel frames when it fired (empty when judged from a trace). */
  stacks: ThreadStack[];
  /** The last ops that completed before the violation, oldest first ("t1 #4 pwrite ... = 4096"). */
  traceTail: string[];
  /** Scheduler steps taken when it fired. */
  step: number;
}

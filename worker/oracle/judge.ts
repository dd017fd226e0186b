// Judging a recorded trace: the oracle's rules over a trace after the fact,
// the way a real kernel's run is judged (the kernel twin). The events are fed
// in order exactly as the sim's driver feeds them live; the first violation
// is the verdict, located by the event it fired at.

import { describeOp } from '../prog/describe.js';
import type { Program } from '../prog/types.js';
import { checkSignature, dataSignature } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import { errname } from '../sim/errno.js';
import type { Trace } from '../trace/types.js';
import { traceCause } from './cause.js';
import type { Raise } from './model.js';
import { Oracle } from './oracle.js';

/** A violation the oracle raised while judging a trace. */
class Judged extends Error {
  constructor(readonly violation: Omit<RunViolation, 'traceTail' | 'step'>) {
    super(violation.message);
  }
}

/** How a judged trace's violation leaves: a wrong byte is named as a trace can name it (oracle/cause.ts). */
function raiser(program: Program): Raise {
  return (kind, invariant, fn, detail, fault) => {
    if (kind === 'DATA' && fault && !('short' in fault)) {
      const { cause, words } = traceCause(program, fault, fn);
      const signature = dataSignature(cause);
      throw new Judged({ signature, invariant, kind, message: `${signature}: ${detail}; ${words}`, stacks: [] });
    }
    const signature = checkSignature(kind, invariant, fn);
    throw new Judged({ signature, invariant, kind, message: `${signature}: ${detail}`, stacks: [] });
  };
}

export interface TraceVerdict {
  /** The violation, or null when the trace is one Linux allows. */
  violation: RunViolation | null;
  /** The index of the event it fired at (-1: none, or the sim's own check stopped the run). */
  at: number;
}

const TRACE_TAIL = 16;

/**
 * Judge a trace: its events by the oracle's rules, in order; when they are
 * all legal and the run was stopped by a check inside the sim (a WARN or BUG
 * site, a lock invariant, a deadlock), that check's violation. Only a sim
 * trace has the SIM ONLY events, so only it is judged with them.
 */
export function judgeTrace(trace: Trace): TraceVerdict {
  const oracle = new Oracle(trace.program, trace.source.kind === 'sim', raiser(trace.program));
  const tail: string[] = [];
  for (let at = 0; at < trace.events.length; at++) {
    const ev = trace.events[at]!;
    try {
      oracle.observe(ev);
    } catch (e) {
      if (!(e instanceof Judged)) throw e;
      return { violation: { ...e.violation, traceTail: tail.slice(-TRACE_TAIL), step: at }, at };
    }
    if (ev.e === 'ret') tail.push(`t${ev.t} #${ev.i} ${describeOp(trace.program.threads[ev.t]!.ops[ev.i]!)} = ${errname(ev.ret)}`);
  }
  return { violation: trace.end.outcome === 'violation' ? trace.end.violation : null, at: -1 };
}

// The expected side of a DATA finding's cause: whose bytes the reader should
// have seen, in the words every interface uses ("written by t0 #3 mwrite"),
// and the class word its signature names them by (report/signature.ts
// DataCause). What replaced them is the sim's to say (exec/cause.ts, from
// byte provenance); a trace without it (a real kernel's) says only what was
// read instead: `traceCause`.

import type { Op, Program } from '../prog/types.js';
import type { DataCause } from '../report/signature.js';
import type { DataFault, Writer } from './model.js';

function opOf(p: Program, w: Writer): Op | null {
  return w.t >= 0 ? (p.threads[w.t]?.ops[w.i] ?? null) : null;
}

/** The zeroes an op's effect implies, by what it did. */
function zeroWord(op: Op | null): string {
  if (op === null) return 'extend';
  if (op.op === 'truncate') return 'truncate';
  if (op.op !== 'fallocate') return 'extend';
  switch (op.mode) {
    case 'punch':
      return 'punch';
    case 'zero':
    case 'zero_keep':
      return 'zero-range';
    case 'insert':
      return 'insert';
    default:
      return 'extend';
  }
}

/** Whether a data op of the program writes with O_DIRECT. */
function direct(p: Program, op: Op): boolean {
  if (op.op === 'pwrite' || op.op === 'aio_write') return p.fds[op.fd]?.direct === true;
  if (op.op === 'copy_range') return p.fds[op.fdOut]?.direct === true;
  return false;
}

/**
 * The word a signature names the expected bytes by: the way they came,
 * through the page cache (`write`: write(2), copy_file_range, a store
 * through a mapping alike, since what the kernel then loses is cached dirty
 * data whichever put it there; the words say which op) or around it (`dio`),
 * or the zeroes an op implies (`extend`, `truncate`, `punch`, `zero-range`,
 * `insert`), or `recovered`.
 */
export function expectedWord(p: Program, w: Writer): string {
  const op = opOf(p, w);
  if (w.kind === 'recovered') return 'recovered';
  if (w.kind === 'zero') return zeroWord(op);
  return op && direct(p, op) ? 'dio' : 'write';
}

/** "written by t0 #3 pwrite", "stored by t1 #2 mwrite", "zeroed by t0 #4 truncate (the file grew)". */
export function writerWords(p: Program, w: Writer): string {
  const op = opOf(p, w);
  if (op === null) return 'never written';
  const who = `t${w.t} #${w.i} ${op.op}`;
  if (w.kind === 'recovered') return `left by crash recovery in ${who}`;
  if (w.kind === 'zero') return `zeroes of ${who} (${zeroWord(op) === 'extend' ? 'the file grew over it' : zeroWord(op)})`;
  return op.op === 'mwrite' ? `stored by ${who}` : `written by ${who}`;
}

const hex = (b: number): string => (b < 0 ? 'nothing' : `0x${b.toString(16).padStart(2, '0')}`);

/**
 * A wrong byte judged from a trace alone: whose bytes were expected, and
 * what was read instead (zeroes or other bytes), at the function that read
 * it. The signature's class is `mismatch`: without provenance the trace
 * cannot tell a lost write from stale data.
 */
export function traceCause(p: Program, fault: DataFault, fn: string): { cause: DataCause; words: string } {
  const expected = fault.expected ? expectedWord(p, fault.expected) : 'cached';
  const how = fault.got === 0 ? 'zeroes' : 'other';
  const whose = fault.expected ? writerWords(p, fault.expected) : `${hex(fault.want)} in the page cache`;
  return { cause: { cls: 'mismatch', expected, how, fn }, words: `byte ${fault.pos}: ${whose}, read ${hex(fault.got)}` };
}

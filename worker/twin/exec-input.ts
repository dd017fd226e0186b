// The native executor's input: a validated Program as lines the C side
// (native/parse.c) reads with a table and no JSON parser. The one definition
// of the format on this side; native/README.md documents it for the other.
//
//   foliofuzz-exec-input 1
//   files 2                      the program's files become f0, f1 in the run directory
//   fd file=0 direct=0           one line per fd, in order
//   thread                       starts the next thread; its ops follow
//   pwrite fd=0 off=0 len=8192 fill=171 bsize=4096
//   end                          so that a truncated input is refused
//
// An op line is the op's name and its fields as key=value, with the field
// names of worker/prog/types.ts: numbers in decimal, booleans 0/1, the
// fallocate mode and mmap prot as their words. File names never reach the
// executor. A program's schedule is the sim's and has no meaning here.

import type { Op, Program } from '../prog/types.js';

export const EXEC_INPUT_MAGIC = 'foliofuzz-exec-input 1';

function fieldValue(value: number | boolean | string): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/** One op as a line: its name, then every field it has. */
export function opLine(op: Op): string {
  const parts: string[] = [op.op];
  for (const [key, value] of Object.entries(op)) {
    if (key === 'op' || value === undefined) continue;
    parts.push(`${key}=${fieldValue(value as number | boolean | string)}`);
  }
  return parts.join(' ');
}

/** The whole program, newline-terminated. The program must have passed validateProgram. */
export function programToExecInput(program: Program): string {
  const lines = [EXEC_INPUT_MAGIC, `files ${program.files.length}`];
  for (const fd of program.fds) lines.push(`fd file=${fd.file} direct=${fd.direct ? 1 : 0}`);
  for (const thread of program.threads) {
    lines.push('thread');
    for (const op of thread.ops) lines.push(opLine(op));
  }
  lines.push('end');
  return `${lines.join('\n')}\n`;
}

// What the line-oriented importers (xfs_io scripts, fsx opsfiles) share: a
// per-line error that becomes `FILE:LINE: reason`, and the one-file, one-fd,
// one-thread program they build.

import { ProgramInputError } from './errors.js';
import { type Op, PROGRAM_VERSION, type Program, type SimConfig } from './types.js';
import { validateProgram } from './validate.js';

/** A problem with the line being parsed; the caller adds where. */
export class LineError extends Error {}

/** Run a line's parser; its LineError becomes `source:lineNo: reason`. */
export function atLine<T>(source: string, lineNo: number, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof LineError) throw new ProgramInputError(`${source}:${lineNo}: ${err.message}`);
    throw err;
  }
}

/** The program of a script: file0, opened once (O_DIRECT when asked), one thread of ops. */
export function singleFileProgram(ops: Op[], config: SimConfig, direct: boolean, source: string): Program {
  return validateProgram({
    version: PROGRAM_VERSION,
    config,
    files: [{ name: 'file0' }],
    fds: [{ file: 0, direct }],
    threads: [{ ops }],
  }, source);
}

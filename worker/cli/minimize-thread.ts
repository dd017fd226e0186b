// The thread `foliofuzz minimize` runs the minimizer on, so that the main
// thread stays free to show progress while it works (minimizing a long
// program takes tens of seconds). In: the program and the options as plain
// data; out: the result, or the error's class and message.

import { parentPort, workerData } from 'node:worker_threads';
import { minimizeProgram } from '../fuzz/minimize.js';
import { MinimizeError } from '../fuzz/minimize-predicate.js';
import type { Program } from '../prog/types.js';
import type { BugName } from '../sim/bugs.js';

export interface MinimizeThreadInput {
  program: Program;
  bugs: BugName[];
  signature?: string;
  maxRuns?: number;
}

export type MinimizeThreadMessage =
  | { type: 'slipped'; signature: string }
  | { type: 'done'; result: ReturnType<typeof minimizeProgram> }
  | { type: 'error'; minimizeError: boolean; message: string };

const port = parentPort;
if (!port) throw new Error('minimize-thread: not started as a worker thread');
const input = workerData as MinimizeThreadInput;
const post = (m: MinimizeThreadMessage): void => port.postMessage(m);
try {
  const result = minimizeProgram(input.program, {
    bugs: new Set(input.bugs),
    ...(input.signature !== undefined ? { signature: input.signature } : {}),
    ...(input.maxRuns !== undefined ? { maxRuns: input.maxRuns } : {}),
    onNewFinding: (signature) => post({ type: 'slipped', signature }),
  });
  post({ type: 'done', result });
} catch (err) {
  post({ type: 'error', minimizeError: err instanceof MinimizeError, message: err instanceof Error ? err.message : String(err) });
}

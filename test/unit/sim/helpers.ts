// Shared helpers for the sim unit tests: small programs run through the
// executor, and a Kernel driven directly from a scheduler thread.

import assert from 'node:assert/strict';

import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import { Violation } from '../../../worker/sim/checks.js';
import { Kernel } from '../../../worker/sim/kernel.js';
import type { Co } from '../../../worker/sim/sched.js';
import { DEFAULT_CONFIG, PROGRAM_VERSION, type FdDecl, type Op, type Program, type SimConfig } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';

export const EINVAL = -22;
export const EFAULT = -14;
export const EOPNOTSUPP = -95;

export function cfg(over: Partial<SimConfig> = {}): SimConfig {
  return { ...DEFAULT_CONFIG, ...over };
}

/** One file, fds as given (default: one buffered fd), one thread. Validated. */
export function program(config: Partial<SimConfig>, ops: Op[], fds: FdDecl[] = [{ file: 0, direct: false }], nfiles = 1): Program {
  const files = Array.from({ length: nfiles }, (_, i) => ({ name: `f${i}` }));
  return validateProgram({ version: PROGRAM_VERSION, config: cfg(config), files, fds, threads: [{ ops }] }, 'test');
}

/** Run a program and require a clean run (no violation, no harness error). */
export function runClean(p: Program): RunResult {
  const r = runProgram(p);
  assert.equal(r.harnessError, null, `harness error: ${r.harnessError ?? ''}`);
  assert.equal(r.violation, null, `violation: ${JSON.stringify(r.violation)}\nprogram: ${JSON.stringify(p)}`);
  return r;
}

/** Return values of thread 0, in op order. */
export function rets(r: RunResult): number[] {
  return r.results.filter((x) => x.thread === 0).sort((a, b) => a.index - b.index).map((x) => x.ret);
}

/** The final page-cache contents of file i. */
export function fileData(r: RunResult, i = 0): Uint8Array {
  return r.files[i]!.data;
}

/** Assert bytes [from, to) of data are all `byte`. */
export function assertBytes(data: Uint8Array, from: number, to: number, byte: number, what = ''): void {
  for (let i = from; i < to; i++) {
    if (data[i] !== byte) assert.fail(`${what} byte ${i} is 0x${(data[i] ?? -1).toString(16)}, expected 0x${byte.toString(16)} in [${from}, ${to})`);
  }
}

/** Run body as the only thread of k's scheduler to completion and return its value. */
export function drive<T>(k: Kernel, body: () => Co<T>): T {
  let out: { v: T } | null = null;
  k.sched.spawn('test', (function* () {
    out = { v: yield* body() };
  })());
  const o = k.sched.run();
  assert.equal(o.kind, 'done', `scheduler outcome ${o.kind}`);
  assert.ok(out !== null, 'thread did not finish');
  return (out as { v: T }).v;
}

export function newKernel(config: Partial<SimConfig> = {}): Kernel {
  return new Kernel(cfg(config), { stepBudget: 1_000_000 });
}

/** assert.throws for a sim Violation with the given invariant id. */
export function throwsViolation(fn: () => unknown, invariant: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Violation, `expected a Violation, got ${String(e)}`);
    assert.equal(e.invariant, invariant);
    return true;
  });
}

// Shared by the kernel twin's tests: programs, the events of a trace, and
// what provisioning may have left behind.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FdDecl, Op, Program, SimConfig } from '../../worker/prog/types.js';
import { validateProgram } from '../../worker/prog/validate.js';
import type { Trace, TraceEvent } from '../../worker/trace/types.js';
import { type KernelRunOptions, type KernelRunResult, runOnKernel } from '../../worker/twin/executor.js';
import { loopsUnder, mountsUnder } from '../../worker/twin/mounts.js';
import { type FsSpec, type TwinMount, provisionMount } from '../../worker/twin/provision.js';

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** A fresh parent directory for this test file's mounts; check it is clean and remove it at the end. */
export function testParent(): string {
  return mkdtempSync(join(tmpdir(), 'ffzt-'));
}

/** Mounts and loop devices still under parent, described. */
export function leftovers(parent: string): string[] {
  return [
    ...mountsUnder(parent).map((m) => `mount ${m.source} on ${m.target} (${m.type})`),
    ...loopsUnder(parent).map((l) => `loop ${l.device} -> ${l.backingFile}`),
  ];
}

export function assertNothingLeft(parent: string): void {
  assert.deepEqual(leftovers(parent), [], `left behind under ${parent}`);
}

export function removeParent(parent: string): void {
  assertNothingLeft(parent);
  rmSync(parent, { recursive: true, force: true });
}

export function provisionIn(parent: string, spec: FsSpec): TwinMount {
  if (!IS_ROOT) throw new Error('the kernel twin tests need root: loop devices and mount (CI runs as root)');
  return provisionMount(spec, { parent });
}

export interface Suite {
  mount: () => TwinMount;
  parent: () => string;
  /** Run a program on the mount, which the executor owns (it may remount). */
  run: (prog: Program, opts?: Partial<KernelRunOptions>) => Promise<KernelRunResult>;
}

/**
 * In a describe block: a mount of spec made before its tests and released
 * after them (with a check that nothing was left).
 */
export function mountForSuite(spec: FsSpec): Suite {
  let parent: string | undefined;
  let mount: TwinMount | undefined;
  before(() => {
    parent = testParent();
    mount = provisionIn(parent, spec);
  });
  after(() => {
    mount?.release();
    if (parent) removeParent(parent);
  });
  return {
    mount: () => mount!,
    parent: () => parent!,
    run: (prog, opts = {}) => runOnKernel(prog, { dir: mount!.dir, mount: mount!.owned, ...opts }),
  };
}

export function config(spec: FsSpec): SimConfig {
  return { ...spec, folioMax: 16384 };
}

/** A validated program: one file per name, the fds, a list of ops per thread. */
export function program(spec: FsSpec, files: number, fds: FdDecl[], threads: Op[][]): Program {
  return validateProgram({
    version: 1,
    config: config(spec),
    files: Array.from({ length: files }, (_, i) => ({ name: `file${i}` })),
    fds,
    threads: threads.map((ops) => ({ ops })),
  }, 'test');
}

export type RetEvent = Extract<TraceEvent, { e: 'ret' }>;
export type CallEvent = Extract<TraceEvent, { e: 'call' }>;
export type AioEvent = Extract<TraceEvent, { e: 'aio' }>;

export function rets(trace: Trace, t = 0): RetEvent[] {
  return trace.events.filter((e): e is RetEvent => e.e === 'ret' && e.t === t);
}

export function retOf(trace: Trace, t: number, i: number): RetEvent {
  const r = trace.events.find((e): e is RetEvent => e.e === 'ret' && e.t === t && e.i === i);
  assert.ok(r, `no ret event for thread ${t} op ${i}`);
  return r;
}

export function callsOf(trace: Trace, t: number, i: number): CallEvent[] {
  return trace.events.filter((e): e is CallEvent => e.e === 'call' && e.t === t && e.i === i);
}

export function aioEvents(trace: Trace): (AioEvent & { iocb: number })[] {
  return trace.events.filter((e): e is AioEvent => e.e === 'aio').map((e) => ({ ...e, iocb: iocbOf(trace, e) }));
}

/** The iocb id of the op that submitted an AIO (an `aio` event names its op). */
export function iocbOf(trace: Trace, e: AioEvent): number {
  const op = trace.program.threads[e.t]!.ops[e.i]!;
  if (op.op !== 'aio_write' && op.op !== 'aio_read') throw new Error(`aio event names t${e.t} #${e.i}, a ${op.op}`);
  return op.iocb;
}

/** The final contents of every file read back `via`, in file order. */
export function finals(trace: Trace, via: 'cache' | 'drop_caches' | 'remount'): Uint8Array[] {
  return trace.events.flatMap((e) => (e.e === 'final' && e.via === via ? [e.data] : []));
}

export function indexOfEvent(trace: Trace, pred: (e: TraceEvent) => boolean): number {
  const at = trace.events.findIndex(pred);
  assert.ok(at >= 0, 'event not found');
  return at;
}

/** Bytes made of runs: [length, byte] each. */
export function bytes(...runs: [number, number][]): Uint8Array {
  const out = new Uint8Array(runs.reduce((n, [len]) => n + len, 0));
  let at = 0;
  for (const [len, byte] of runs) {
    out.fill(byte, at, at + len);
    at += len;
  }
  return out;
}

/**
 * The shape every trace of the executor has: each thread's ops in order,
 * each an `op`, its `call`s, then its `ret` with every file's size; the
 * `final` reads after every thread's last ret.
 */
export function assertWellFormed(trace: Trace): void {
  const p = trace.program;
  const next = p.threads.map(() => ({ i: 0, open: false }));
  let finalsStarted = false;
  for (const [k, e] of trace.events.entries()) {
    const at = `event ${k} ${JSON.stringify(e).slice(0, 80)}`;
    if (e.e === 'final') finalsStarted = true;
    else if (e.e === 'op' || e.e === 'call' || e.e === 'ret') assert.ok(!finalsStarted, `${at}: after the final reads`);
    if (e.e === 'op') {
      const s = next[e.t]!;
      assert.ok(!s.open && e.i === s.i, `${at}: thread ${e.t} expected op ${s.i}`);
      s.open = true;
    } else if (e.e === 'call') {
      const s = next[e.t]!;
      assert.ok(s.open && e.i === s.i, `${at}: a call outside its op`);
    } else if (e.e === 'ret') {
      const s = next[e.t]!;
      assert.ok(s.open && e.i === s.i, `${at}: a ret without its op`);
      assert.equal(e.sizes?.length, p.files.length, `${at}: sizes`);
      s.open = false;
      s.i++;
    }
  }
  p.threads.forEach((th, t) => assert.equal(next[t]!.i, th.ops.length, `thread ${t} ran every op`));
  assert.deepEqual(trace.end, { outcome: 'done' });
}

// The byte pool: memory recycled between runs must look exactly like new
// memory, so a run's outcome cannot depend on the runs before it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import { takeBytes, withByteScope } from '../../../worker/sim/byte-pool.js';
import { CONFIGS, generateConcurrentProgram } from '../../property/gen.js';
import { knownRepros } from '../repro/known.js';

test('outside a scope takeBytes is a plain zeroed allocation of the exact size', () => {
  const a = takeBytes(5000);
  assert.equal(a.length, 5000);
  assert.equal(a.byteOffset, 0);
  assert.equal(a.buffer.byteLength, 5000);
  assert.ok(a.every((b) => b === 0));
});

test('a buffer given back at the end of a scope comes back zeroed in the next one', () => {
  let first: Uint8Array | null = null;
  withByteScope(() => {
    first = takeBytes(6000);
    first.fill(0xab);
  });
  const again = withByteScope(() => {
    const b = takeBytes(6000);
    assert.equal(b.length, 6000);
    assert.ok(b.every((x) => x === 0), 'recycled memory reads as zeroes');
    return b;
  });
  // Recycled, not reallocated: the same memory (a view of an 8 KiB class buffer).
  assert.equal(again.buffer, first!.buffer);
  assert.equal(again.buffer.byteLength, 8192);
});

test('buffers taken in a scope go back even when it throws, and a nested scope belongs to the outer one', () => {
  let taken: Uint8Array | null = null;
  assert.throws(() =>
    withByteScope(() => {
      withByteScope(() => {
        taken = takeBytes(1 << 16);
        taken.fill(7);
      });
      // Still this run's: the inner scope did not give it back.
      assert.equal(taken![0], 7);
      throw new Error('boom');
    }),
  /boom/);
  withByteScope(() => {
    const b = takeBytes(1 << 16);
    assert.equal(b.buffer, taken!.buffer);
    assert.equal(b[0], 0);
  });
});

test('small requests are not pooled', () => {
  withByteScope(() => {
    const s = takeBytes(100);
    assert.equal(s.buffer.byteLength, 100);
  });
});

function outcome(r: RunResult): string {
  const files = r.files.map((f) => `${f.name}:${Buffer.from(f.data).toString('base64')}`);
  return JSON.stringify({ v: r.violation, h: r.harnessError, steps: r.steps, results: r.results, files });
}

test('a run gives the same result whatever ran before it (known reproducers and PCT programs, two orders)', () => {
  const runs: (() => RunResult)[] = [];
  for (const k of knownRepros()) runs.push(() => runProgram(k.program, { bugs: new Set([k.name]) }));
  for (let i = 0; i < 12; i++) {
    const p = generateConcurrentProgram(7_001 + i, CONFIGS[i % CONFIGS.length]!, 3, [6, 12]);
    const program = { ...p, schedule: { strategy: 'pct' as const, seed: i, depth: 3, decisions: [] } };
    runs.push(() => runProgram(program));
  }
  const forward = runs.map((run) => outcome(run()));
  const backward = [...runs].reverse().map((run) => outcome(run())).reverse();
  assert.ok(forward.some((o) => o.includes('"signature"')), 'some runs find their bug');
  for (let i = 0; i < runs.length; i++) assert.equal(backward[i], forward[i], `run ${i} depends on the runs before it`);
});

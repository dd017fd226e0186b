// cloneProgram: a deep copy equal to structuredClone's, sharing nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { generateProgram } from '../../../worker/fuzz/generate.js';
import { mutateProgram } from '../../../worker/fuzz/mutate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { cloneProgram } from '../../../worker/prog/clone.js';
import type { Program } from '../../../worker/prog/types.js';
import { SAMPLE_OPS, sampleProgram } from './sample-ops.js';

function programs(): Program[] {
  const rng = new FuzzRng(21);
  const out: Program[] = [sampleProgram([...SAMPLE_OPS])];
  for (let i = 0; i < 200; i++) out.push(mutateProgram(generateProgram(rng), rng, []));
  const withDecisions = cloneProgram(out[out.length - 1]!);
  withDecisions.schedule = { strategy: 'replay', seed: 1, depth: 2, decisions: [{ at: 't0', op: 1, step: 2, nth: 0, run: 't1' }] };
  out.push(withDecisions);
  return out;
}

test('cloneProgram: equal to structuredClone for every op kind, generated and mutated programs, schedules with decisions', () => {
  for (const p of programs()) assert.deepEqual(cloneProgram(p), structuredClone(p));
});

test('cloneProgram: the copy shares no object with the original', () => {
  for (const p of programs()) {
    const before = structuredClone(p);
    const q = cloneProgram(p);
    q.config.blockSize = 1;
    for (const f of q.files) f.name = 'x';
    for (const d of q.fds) d.file = 99;
    for (const t of q.threads) for (const op of t.ops) (op as { op: string }).op = 'changed';
    q.threads.push({ ops: [] });
    if (q.schedule) {
      q.schedule.seed = -1;
      for (const d of q.schedule.decisions) d.run = 'x';
      q.schedule.decisions.push({ at: '', op: 0, step: 0, nth: 0, run: 't0' });
    }
    assert.deepEqual(p, before);
  }
});

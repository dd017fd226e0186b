// Byte provenance (worker/sim/provenance.ts) only observes: a run does the
// same with it or without it. And a DATA finding with it is always named by
// a cause (worker/exec/cause.ts), never by what was read alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import { generateProgram } from '../../../worker/fuzz/generate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { parseSignature } from '../../../worker/report/signature.js';
import { BUG_SWITCHES, type BugSet } from '../../../worker/sim/bugs.js';

const ALL: BugSet = new Set(BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name));

function outline(r: RunResult): unknown {
  return {
    results: r.results, steps: r.steps, harness: r.harnessError, schedule: r.schedule,
    violation: r.violation && [r.violation.kind, r.violation.invariant, r.violation.step, r.violation.stacks],
    files: r.files.map((f) => [f.name, Buffer.from(f.data).toString('base64')]),
  };
}

test('a run does the same with provenance as without it', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    for (const bugs of [new Set<never>(), ALL]) {
      const off = runProgram(p, { bugs, provenance: 'off' });
      const on = runProgram(p, { bugs, provenance: 'on' });
      assert.deepEqual(outline(on), outline(off), `seed ${seed}${bugs.size ? ', every switch' : ''}`);
    }
  }
});

test('with every switch on, each DATA finding is named by its cause, the same way every time', () => {
  let data = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    const r = runProgram(p, { bugs: ALL });
    const v = r.violation;
    if (!v || v.kind !== 'DATA') continue;
    data++;
    const parts = parseSignature(v.signature)!;
    assert.equal(parts.version, 2, `seed ${seed}: ${v.signature}`);
    assert.ok(parts.cause ? parts.cause.cls !== 'mismatch' : /^read-error:/.test(parts.invariant), `seed ${seed}: ${v.signature}: ${v.message}`);
    assert.match(v.message, /; (byte \d+: |the read of the folio)/, `seed ${seed}: the cause in words`);
    // The default (provenance on a DATA finding only) names it as a run with provenance throughout does.
    assert.equal(runProgram(p, { bugs: ALL, provenance: 'on' }).violation?.signature, v.signature, `seed ${seed}`);
  }
  assert.ok(data >= 5, `${data} DATA findings`);
});

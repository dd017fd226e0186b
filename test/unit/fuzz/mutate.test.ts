// The mutators: every mutant validates and runs, every mutator fires, the
// input is never modified, and one seed gives one mutant.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import { generateProgram } from '../../../worker/fuzz/generate.js';
import { MUTATORS, mutateProgram, mutateWith } from '../../../worker/fuzz/mutate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import type { Program } from '../../../worker/prog/types.js';
import { parseProgramJson, validateProgram } from '../../../worker/prog/validate.js';

const KNOWN = join(fileURLToPath(new URL('../../../../', import.meta.url)), 'corpus', 'known');

function knownPrograms(): Program[] {
  return readdirSync(KNOWN)
    .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
    .map((f) => parseProgramJson(readFileSync(join(KNOWN, f), 'utf8'), f));
}

const corpus = knownPrograms();
const generated = Array.from({ length: 60 }, (_, i) => generateProgram(new FuzzRng(1000 + i)));

function check(m: Program, what: string, run: boolean): void {
  assert.deepEqual(validateProgram(structuredClone(m), what), m, what);
  if (run) assert.equal(runProgram(m).harnessError, null, what);
}

describe('mutateProgram', () => {
  it('makes valid mutants of generated and known programs, that run without harness errors', () => {
    assert.ok(corpus.length >= 6);
    const rng = new FuzzRng(7);
    let n = 0;
    for (const base of [...generated, ...corpus]) {
      let p = base;
      for (let i = 0; i < 40; i++) {
        p = mutateProgram(p, rng, corpus);
        check(p, `mutant ${n}`, n % 4 === 0);
        n++;
      }
    }
    assert.ok(n >= 2500, `${n} mutants`);
  });

  it('never modifies its input', () => {
    const rng = new FuzzRng(11);
    for (const base of [...generated.slice(0, 20), ...corpus]) {
      const before = structuredClone(base);
      for (let i = 0; i < 30; i++) mutateProgram(base, rng, corpus);
      assert.deepEqual(base, before);
    }
  });

  it('is deterministic per seed', () => {
    for (const base of [...generated.slice(0, 10), ...corpus]) {
      const a = mutateProgram(base, new FuzzRng(5), corpus);
      const b = mutateProgram(base, new FuzzRng(5), corpus);
      assert.deepEqual(a, b);
    }
  });
});

describe('mutateWith', () => {
  it('every mutator fires, keeps programs valid and leaves its input alone', () => {
    const rng = new FuzzRng(3);
    for (const name of MUTATORS) {
      let fired = 0;
      for (const base of [...generated, ...corpus]) {
        const before = structuredClone(base);
        for (let i = 0; i < 5; i++) {
          const m = mutateWith(name, base, rng, corpus);
          if (m === null) continue;
          fired++;
          check(m, `${name} mutant`, fired % 10 === 0);
        }
        assert.deepEqual(base, before, name);
      }
      assert.ok(fired >= 20, `${name} fired ${fired} times`);
    }
  });

  it('is deterministic per seed and rejects unknown names', () => {
    for (const name of MUTATORS) {
      for (const base of corpus) assert.deepEqual(mutateWith(name, base, new FuzzRng(9), corpus), mutateWith(name, base, new FuzzRng(9), corpus), name);
    }
    assert.throws(() => mutateWith('nope', corpus[0]!, new FuzzRng(1), corpus), /unknown mutator/);
  });

  it('the splice result draws ops from both programs', () => {
    const rng = new FuzzRng(21);
    let mixed = 0;
    for (let i = 0; i < 200; i++) {
      const p = generated[i % generated.length]!;
      const m = mutateWith('splice', p, rng, corpus);
      if (m && m.files.length > p.files.length) mixed++;
    }
    assert.ok(mixed > 50, `${mixed} splices took files from the other program`);
  });
});

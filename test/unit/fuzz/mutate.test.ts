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
import { opFields, referencedId } from '../../../worker/prog/ops.js';
import type { Op, Program } from '../../../worker/prog/types.js';
import { parseProgramJson, validateProgram } from '../../../worker/prog/validate.js';
import { SAMPLE_OPS, sampleProgram } from '../prog/sample-ops.js';

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

/** `op` last in a program of its own, after the mmap or aio_write it refers to. */
function programAround(op: Op): Program {
  const map = referencedId(op, 'map');
  const iocb = referencedId(op, 'iocb');
  const definers: Op[] = [];
  if (map !== undefined) definers.push({ op: 'mmap', map, fd: 0, off: 0, len: 8192, prot: 'rw' });
  if (iocb !== undefined) definers.push({ op: 'aio_write', fd: 1, off: 0, len: 4096, fill: 1, iocb });
  return sampleProgram([...definers, structuredClone(op)]);
}

describe('mutateArg', () => {
  it('draws a new value for every field of every op except map and iocb ids', () => {
    for (const sample of SAMPLE_OPS) {
      const p = programAround(sample);
      const at = p.threads[0]!.ops.length - 1;
      const changed = new Set<string>();
      for (let seed = 0; seed < 600; seed++) {
        const m = mutateWith('mutateArg', p, new FuzzRng(seed), []);
        const op = m?.threads[0]!.ops[at] as unknown as Record<string, unknown> | undefined;
        if (op === undefined) continue;
        for (const f of opFields(sample.op)) if (op[f.name] !== (sample as unknown as Record<string, unknown>)[f.name]) changed.add(f.name);
      }
      const expected = opFields(sample.op).filter((f) => !/^(map|iocb)(Def|Ref)$/.test(f.kind)).map((f) => f.name);
      assert.deepEqual([...changed].sort(), expected.sort(), sample.op);
    }
  });
});

// Property: random sequential programs (one thread) over every configuration
// run clean: no invariant violation (the executor checks every read, the final
// page cache and the on-disk view against its shadow model) and no harness
// error. The generator is seeded with its own PRNG, so a failure is replayed
// from the printed seed, or from the program JSON with
//   node dist/worker/cli/main.js exec PROGRAM.json

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { runProgram } from '../../worker/exec/run.js';
import type { SimConfig } from '../../worker/prog/types.js';
import { CONFIGS, WEIGHTS, generateProgram } from './gen.js';

const PER_CONFIG = Number(process.env['FOLIOFUZZ_SEQ_PER_CONFIG'] ?? 6);
const BASE_SEED = Number(process.env['FOLIOFUZZ_SEQ_SEED'] ?? 0x5eed);

function configName(c: SimConfig): string {
  return `${c.fs}${c.inode === 'indirect' ? '-indirect' : ''} bs=${c.blockSize} folio=${c.folioMax}`;
}

test('the generator is deterministic and produces valid programs using every op kind', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const c = CONFIGS[i % CONFIGS.length]!;
    const a = generateProgram(1000 + i, c);
    assert.deepEqual(generateProgram(1000 + i, c), a);
    for (const op of a.threads[0]!.ops) seen.add(op.op);
  }
  assert.deepEqual([...seen].sort(), [...WEIGHTS.map(([k]) => k), 'power_cut'].sort());
});

for (const [ci, config] of CONFIGS.entries()) {
  test(`sequential programs run clean: ${configName(config)}`, () => {
    const failures: string[] = [];
    for (let i = 0; i < PER_CONFIG; i++) {
      const seed = (BASE_SEED + ci * 1000 + i) >>> 0;
      const program = generateProgram(seed, config);
      const res = runProgram(program);
      if (res.violation === null && res.harnessError === null) continue;
      const json = JSON.stringify(program);
      const path = join(tmpdir(), `foliofuzz-seq-${seed}.json`);
      writeFileSync(path, json + '\n');
      const what = res.violation ? `violation ${res.violation.signature}: ${res.violation.message}` : `harness error ${res.harnessError ?? ''}`;
      failures.push(`seed ${seed} config ${configName(config)}: ${what}\n  replay: node dist/worker/cli/main.js exec ${path}\n  program: ${json}`);
    }
    if (failures.length) console.error(failures.join('\n'));
    assert.equal(failures.length, 0, `${failures.length}/${PER_CONFIG} programs failed:\n${failures.map((f) => f.split('\n')[0]).join('\n')}`);
  });
}

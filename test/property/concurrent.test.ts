// Honesty, concurrent: random programs of 2-4 threads over shared files under
// random and PCT schedules, every bug switch off, report nothing. The first
// 2,000 of the soak's programs (npm run soak runs more).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runProgram } from '../../worker/exec/run.js';
import { CONFIGS, generateConcurrentProgram } from './gen.js';

const COUNT = 2000;
const BASE = 7000;

test(`${COUNT} concurrent programs with every switch off report nothing`, () => {
  const failures: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const seed = BASE + i;
    const program = generateConcurrentProgram(seed, CONFIGS[i % CONFIGS.length]!, 2 + (i % 3));
    const r = runProgram(program);
    const sig = r.violation?.signature ?? (r.harnessError ? `HARNESS ${r.harnessError.split('\n')[0]}` : null);
    if (!sig) continue;
    const path = join(tmpdir(), `foliofuzz-concurrent-${seed}.json`);
    writeFileSync(path, JSON.stringify(program, null, 2) + '\n');
    failures.push(`seed ${seed}: ${sig} (replay: node dist/worker/cli/main.js exec ${path})`);
  }
  assert.deepEqual(failures, []);
});

test('concurrent programs are deterministic: the same seed, the same run', () => {
  for (let i = 0; i < 20; i++) {
    const p = generateConcurrentProgram(BASE + i, CONFIGS[i % CONFIGS.length]!, 3);
    const a = runProgram(p);
    const b = runProgram(p);
    assert.deepEqual(b.results, a.results);
    assert.deepEqual(b.schedule, a.schedule);
    assert.equal(b.steps, a.steps);
  }
});

// Honesty, durability: programs of the fuzz generator run as one thread with
// three power cuts each, every switch off, report nothing (the durability
// oracle judges every cut of a sequential program).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runProgram } from '../../worker/exec/run.js';
import { generateProgram } from '../../worker/fuzz/generate.js';
import { repairProgram } from '../../worker/fuzz/mutate.js';
import { FuzzRng } from '../../worker/fuzz/rng.js';
import type { Program } from '../../worker/prog/types.js';

const COUNT = Number(process.env['FOLIOFUZZ_CUT_PROGRAMS'] ?? 400);
const BASE = Number(process.env['FOLIOFUZZ_CUT_SEED'] ?? 100000);

function withPowerCuts(seed: number): Program {
  const p = generateProgram(new FuzzRng(seed));
  const ops = p.threads.flatMap((t) => t.ops);
  const r = new FuzzRng(seed + 0x10000);
  for (let k = 0; k < 3; k++) ops.splice(r.int(ops.length + 1), 0, { op: 'power_cut', seed: r.int(2 ** 31) });
  p.threads = [{ ops }];
  return repairProgram(p);
}

test(`${COUNT} sequential programs with power cuts report nothing`, () => {
  const failures: string[] = [];
  let cuts = 0;
  for (let i = 0; i < COUNT; i++) {
    const program = withPowerCuts(BASE + i);
    const r = runProgram(program);
    cuts += r.results.filter((x) => program.threads[0]!.ops[x.index]!.op === 'power_cut' && x.ret === 0).length;
    const sig = r.violation?.signature ?? (r.harnessError ? `HARNESS ${r.harnessError.split('\n')[0]}` : null);
    if (!sig) continue;
    const path = join(tmpdir(), `foliofuzz-cut-${BASE + i}.json`);
    writeFileSync(path, JSON.stringify(program, null, 2) + '\n');
    failures.push(`seed ${BASE + i}: ${sig} (replay: node dist/worker/cli/main.js exec ${path})`);
  }
  assert.deepEqual(failures, []);
  assert.ok(cuts > COUNT, `the cuts happened (${cuts})`);
});

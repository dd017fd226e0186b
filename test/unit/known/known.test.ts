// Every implemented bug switch has a hand-written minimal reproducer in
// corpus/known/: it fires with the switch's signature when the switch is on,
// runs clean when it is off, and replays identically.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { BUG_SWITCHES, type BugName } from '../../../worker/sim/bugs.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const KNOWN = join(ROOT, 'corpus', 'known');
const CLI = join(ROOT, 'dist', 'worker', 'cli', 'main.js');

interface Entry {
  switch: BugName;
  program: string;
  signature: string;
  scenario: string;
}

const manifest = JSON.parse(readFileSync(join(KNOWN, 'manifest.json'), 'utf8')) as Entry[];

test('every implemented switch has a known reproducer, and only those', () => {
  const implemented = BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name).sort();
  assert.deepEqual(manifest.map((e) => e.switch).sort(), implemented);
});

for (const e of manifest) {
  const path = join(KNOWN, e.program);
  const program = validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
  const bug = BUG_SWITCHES.find((b) => b.name === e.switch)!;

  test(`${e.switch}: fires with its signature, three times the same`, () => {
    const runs = [0, 1, 2].map(() => runProgram(program, { bugs: new Set([e.switch]) }));
    for (const r of runs) {
      assert.equal(r.harnessError, null);
      if (bug.benign) assert.equal(r.violation, null);
      else assert.equal(r.violation?.signature, e.signature);
    }
    assert.deepEqual(runs[1]!.results, runs[0]!.results);
    assert.deepEqual(runs[2]!.steps, runs[0]!.steps);
  });

  test(`${e.switch}: clean with every switch off`, () => {
    const r = runProgram(program);
    assert.equal(r.harnessError, null);
    assert.equal(r.violation, null, r.violation?.message);
  });

  test(`${e.switch}: the CLI exits 1 with the signature, 0 without the switch`, () => {
    const on = spawnSync(process.execPath, [CLI, 'exec', path, '--bugs', e.switch], { encoding: 'utf8' });
    assert.equal(on.status, bug.benign ? 0 : 1, on.stdout + on.stderr);
    if (!bug.benign) assert.equal(on.stdout.trim().split('\n').at(-1), `signature: ${e.signature}`);
    const off = spawnSync(process.execPath, [CLI, 'exec', path], { encoding: 'utf8' });
    assert.equal(off.status, 0, off.stdout + off.stderr);
  });
}

test('foliofuzz bugs --json lists every switch with its fields', () => {
  const r = spawnSync(process.execPath, [CLI, 'bugs', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.equal(list.length, BUG_SWITCHES.length);
  for (const b of list) {
    for (const k of ['name', 'layer', 'year', 'source', 'description', 'benign', 'implemented']) assert.ok(k in b, `${k} in ${String(b['name'])}`);
  }
});

test('exec --bugs refuses an unknown switch and a planned one with exit 2', () => {
  const known = join(KNOWN, manifest[0]!.program);
  const unknown = spawnSync(process.execPath, [CLI, 'exec', known, '--bugs', 'no-such-bug'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown switch 'no-such-bug'/);
  const planned = BUG_SWITCHES.find((b) => !b.implemented);
  if (planned) {
    const r = spawnSync(process.execPath, [CLI, 'exec', known, '--bugs', planned.name], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not implemented/);
  }
});

test('the benign control stays silent under 200 random and PCT schedules', () => {
  for (const e of manifest) {
    const bug = BUG_SWITCHES.find((b) => b.name === e.switch)!;
    if (!bug.benign) continue;
    const path = join(KNOWN, e.program);
    const program = validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
    for (const strategy of ['random', 'pct'] as const) {
      for (let seed = 0; seed < 100; seed++) {
        const r = runProgram({ ...program, schedule: { strategy, seed, depth: 3, decisions: [] } }, { bugs: new Set([e.switch]) });
        assert.equal(r.harnessError, null);
        assert.equal(r.violation, null, `${strategy} seed ${seed}: ${r.violation?.signature ?? ''}`);
      }
    }
  }
});

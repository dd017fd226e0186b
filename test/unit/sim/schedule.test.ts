import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '../../../worker/exec/run.js';
import type { Op, Program, Schedule } from '../../../worker/prog/types.js';

/** Two threads on one file, with writeback and reclaim threads woken: plenty of real choice points. */
function racy(schedule: Schedule | undefined): Program {
  const t0: Op[] = [
    { op: 'pwrite', fd: 0, off: 0, len: 20000, fill: 1 },
    { op: 'writeback_kick' },
    { op: 'pread', fd: 0, off: 0, len: 20000 },
    { op: 'fsync', fd: 0 },
  ];
  const t1: Op[] = [
    { op: 'pwrite', fd: 1, off: 30000, len: 5000, fill: 2 },
    { op: 'reclaim' },
    { op: 'pread', fd: 1, off: 0, len: 40000 },
    { op: 'truncate', fd: 1, size: 25000 },
  ];
  return {
    version: 1,
    config: { fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 16384 },
    files: [{ name: 'a' }],
    fds: [{ file: 0, direct: false }, { file: 0, direct: false }],
    threads: [{ ops: t0 }, { ops: t1 }],
    ...(schedule ? { schedule } : {}),
  };
}

for (const strategy of ['random', 'pct'] as const) {
  test(`${strategy}: the same seed gives the same decisions and results; the recorded schedule replays exactly`, () => {
    const p = racy({ strategy, seed: 42, depth: 3, decisions: [] });
    const a = runProgram(p);
    const b = runProgram(p);
    assert.equal(a.violation, null, a.violation?.message);
    assert.ok(a.schedule && a.schedule.decisions.length > 5, 'the program meets real choice points');
    assert.deepEqual(b.schedule, a.schedule);
    assert.deepEqual(b.results, a.results);
    const replayed = runProgram(racy(a.schedule));
    assert.deepEqual(replayed.results, a.results);
    assert.deepEqual(replayed.schedule!.decisions, a.schedule!.decisions);
    assert.equal(replayed.steps, a.steps);
  });
}

test('different seeds explore different interleavings', () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const r = runProgram(racy({ strategy: 'random', seed, depth: 0, decisions: [] }));
    assert.equal(r.violation, null, r.violation?.message);
    seen.add(JSON.stringify(r.schedule!.decisions.map((d) => d.pick)));
  }
  assert.ok(seen.size > 10, `only ${seen.size} distinct schedules`);
});

test('a replay cut short, or one that stops matching, falls back to the default policy', () => {
  const full = runProgram(racy({ strategy: 'random', seed: 7, depth: 0, decisions: [] })).schedule!;
  const cut = runProgram(racy({ ...full, decisions: full.decisions.slice(0, 3) }));
  assert.equal(cut.violation, null);
  assert.equal(cut.harnessError, null);
  const wrong = runProgram(racy({ ...full, decisions: full.decisions.map((d) => ({ pick: d.pick, hash: d.hash ^ 1 })) }));
  assert.equal(wrong.violation, null);
  assert.equal(wrong.harnessError, null);
  // With no decision matching, the run is the default policy's.
  const dflt = runProgram(racy({ strategy: 'default', seed: 0, depth: 0, decisions: [] }));
  assert.deepEqual(wrong.results, dflt.results);
});

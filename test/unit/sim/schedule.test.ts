import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '../../../worker/exec/run.js';
import { generateProgram } from '../../../worker/fuzz/generate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import type { Op, Program, Schedule } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';

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
    const p = racy({ strategy, seed: 43, depth: 3, decisions: [] });
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
    seen.add(JSON.stringify(r.schedule!.decisions));
  }
  assert.ok(seen.size > 10, `only ${seen.size} distinct schedules`);
});

test('a replay of part of the list, or of decisions whose anchors the run never reaches, falls back to the default policy', () => {
  const full = runProgram(racy({ strategy: 'random', seed: 7, depth: 0, decisions: [] })).schedule!;
  const cut = runProgram(racy({ ...full, decisions: full.decisions.slice(0, 3) }));
  assert.equal(cut.violation, null);
  assert.equal(cut.harnessError, null);
  // The decisions that fired are the ones kept, no others.
  assert.ok(cut.schedule!.decisions.length <= 3);
  const nowhere = runProgram(racy({ ...full, decisions: full.decisions.map((d) => ({ ...d, step: d.step + 100000 })) }));
  assert.equal(nowhere.violation, null);
  assert.equal(nowhere.harnessError, null);
  assert.deepEqual(nowhere.schedule!.decisions, [], 'no decision fired');
  // With no decision matching, the run is the default policy's.
  const dflt = runProgram(racy({ strategy: 'default', seed: 0, depth: 0, decisions: [] }));
  assert.deepEqual(nowhere.results, dflt.results);
  assert.equal(nowhere.steps, dflt.steps);
});

test('a run records only the choices the default policy would not take, each named by its anchor', () => {
  const r = runProgram(racy({ strategy: 'random', seed: 3, depth: 0, decisions: [] }));
  const ds = r.schedule!.decisions;
  assert.ok(ds.length > 0);
  for (const d of ds) {
    assert.match(d.at, /^(t[01]|flush|kswapd|final|)$/);
    assert.match(d.run, /^(t[01]|flush|kswapd|final|ev:[a-z_]+#\d+)$/);
    assert.notEqual(d.at === '' ? 't0' : d.at, d.run, 'running on is the default, never a decision');
  }
  // Anchors are unique: each names one choice point.
  assert.equal(new Set(ds.map((d) => `${d.at}|${d.op}|${d.step}|${d.nth}`)).size, ds.length);
});

test('a decision keeps its meaning when an op of another thread before it is cut', () => {
  // t1 preempted in its pread by the flusher: the same decision, anchored at
  // t1's op 2, still fires once t0 loses its first op (a positional list
  // would have shifted with every choice point that op took).
  const p = racy({ strategy: 'replay', seed: 0, depth: 0, decisions: [{ at: 't1', op: 2, step: 1, nth: 0, run: 'flush' }] });
  const a = runProgram(p);
  assert.deepEqual(a.schedule!.decisions, p.schedule!.decisions, 'the decision fired');
  const q = structuredClone(p);
  q.threads[0]!.ops.splice(0, 1);
  const b = runProgram(q);
  assert.deepEqual(b.schedule!.decisions, p.schedule!.decisions, 'it fires at the same place after the cut');
});

test('every schedule a run records is a valid program schedule (thread and completion names fit the format)', () => {
  // Generated programs of every fs kind, under random and pct schedules,
  // meet every kind of completion and kernel thread the sim has; a recorded
  // decision that failed validation would make its reproducer unloadable.
  let decisions = 0;
  const labels = new Set<string>();
  for (let seed = 1; seed <= 150; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    p.schedule = { strategy: seed % 2 ? 'random' : 'pct', seed, depth: 3, decisions: [] };
    const r = runProgram(p, { bugs: new Set() });
    if (!r.schedule) continue;
    const recorded = { ...p, schedule: r.schedule };
    validateProgram(JSON.parse(JSON.stringify(recorded)) as unknown, `seed ${seed}`);
    decisions += r.schedule.decisions.length;
    for (const d of r.schedule.decisions) labels.add(d.run.replace(/#\d+$/, ''));
  }
  assert.ok(decisions > 1000, `${decisions} decisions recorded`);
  assert.ok([...labels].some((l) => l.startsWith('ev:fuse_')), `fuse requests among ${[...labels].join(' ')}`);
  assert.ok([...labels].some((l) => l.startsWith('ev:iomap_')), 'bio completions');
});

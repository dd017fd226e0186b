// The minimizer over the known reproducers: results never grow, keep their
// signature and replay; the control is refused; slippage to another bug is
// reported and rejected; bloated reproducers shrink back to the hand-written size.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import { cutOps } from '../../../worker/fuzz/minimize-edit.js';
import { minimizeProgram, type MinimizeResult } from '../../../worker/fuzz/minimize.js';
import { MinimizeError, programSize } from '../../../worker/fuzz/minimize-predicate.js';
import type { Op, Program } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import type { BugName, BugSet } from '../../../worker/sim/bugs.js';
import { bloatReproducing } from './minimize-bloat.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const KNOWN = join(ROOT, 'corpus', 'known');

interface Entry {
  switch: BugName;
  program: string;
  signature: string;
}

const manifest = JSON.parse(readFileSync(join(KNOWN, 'manifest.json'), 'utf8')) as Entry[];

function load(file: string): Program {
  const path = join(KNOWN, file);
  return validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
}

function decisions(p: Program): number {
  return p.schedule?.decisions.length ?? 0;
}

/** What every result must satisfy: valid, not larger, same signature three times. */
function checkResult(r: MinimizeResult, input: Program, bugs: BugSet, signature: string): void {
  const p = validateProgram(JSON.parse(JSON.stringify(r.program)), 'result');
  assert.equal(r.signature, signature);
  assert.equal(r.opsBefore, programSize(input));
  assert.equal(r.opsAfter, programSize(p));
  assert.ok(r.opsAfter <= r.opsBefore, `ops grew: ${r.opsBefore} -> ${r.opsAfter}`);
  assert.equal(r.threadsAfter, p.threads.length);
  assert.ok(r.threadsAfter <= r.threadsBefore);
  assert.equal(r.decisionsAfter, decisions(p));
  // Ops are the measure: a decision more is accepted only as the price of fewer ops.
  assert.ok(r.decisionsAfter <= r.decisionsBefore || r.opsAfter < r.opsBefore,
    `decisions grew with no op cut: ${r.decisionsBefore} -> ${r.decisionsAfter}`);
  for (let i = 0; i < 3; i++) assert.equal(runProgram(p, { bugs }).violation?.signature, signature);
  for (const s of r.stages) assert.ok(s.opsAfter <= r.opsBefore);
  assert.equal(r.stages.at(-1)!.opsAfter, r.opsAfter);
}

for (const e of manifest) {
  const program = load(e.program);
  const bugs: BugSet = new Set([e.switch]);
  if (e.signature === '') {
    test(`${e.switch}: the control is refused, it does not reproduce`, () => {
      assert.throws(() => minimizeProgram(program, { bugs }), (err: unknown) =>
        err instanceof MinimizeError && /does not reproduce/.test(err.message));
    });
    continue;
  }
  test(`${e.switch}: minimizing the known reproducer keeps its signature and never grows`, () => {
    const r = minimizeProgram(program, { bugs });
    checkResult(r, program, bugs, e.signature);
    assert.ok(r.decisionsBefore <= decisions(program));
  });
  test(`${e.switch}: a bloated version shrinks back to the hand-written size`, () => {
    const bloated = bloatReproducing(program, bugs, e.signature);
    assert.ok(bloated, 'some bloated version reproduces');
    assert.ok(programSize(bloated) > programSize(program));
    const r = minimizeProgram(bloated, { bugs });
    checkResult(r, bloated, bugs, e.signature);
    assert.ok(r.opsAfter <= programSize(program), `${r.opsAfter} ops, hand-written ${programSize(program)}`);
    assert.ok(r.threadsAfter <= program.threads.length);
  });
}

test('with every switch off a reproducer is refused', () => {
  const e = manifest.find((m) => m.signature !== '')!;
  assert.throws(() => minimizeProgram(load(e.program), { bugs: new Set() }), MinimizeError);
});

test('a target signature the program does not report is refused', () => {
  const e = manifest.find((m) => m.signature !== '')!;
  assert.throws(() => minimizeProgram(load(e.program), { bugs: new Set([e.switch]), signature: 'BUG other' }), MinimizeError);
});

/** b's ops after a's in thread 0, on b's own files and fds. */
function combine(a: Program, b: Program): Program {
  const q = structuredClone(a);
  const nf = q.files.length;
  const nfd = q.fds.length;
  for (const f of b.files) q.files.push({ name: `b_${f.name}` });
  for (const d of b.fds) q.fds.push({ file: d.file + nf, direct: d.direct });
  for (const op of b.threads[0]!.ops) {
    const c = { ...op } as Record<string, unknown>;
    for (const k of ['fd', 'fdIn', 'fdOut']) if (typeof c[k] === 'number') c[k] = (c[k] as number) + nfd;
    if (op.op === 'evict') c['file'] = op.file + nf;
    if ('map' in op) c['map'] = op.map + 100;
    if ('iocb' in op) c['iocb'] = op.iocb + 100;
    q.threads[0]!.ops.push(c as unknown as typeof op);
  }
  return validateProgram(JSON.parse(JSON.stringify(q)), 'combined');
}

test('slippage: cutting the first bug reveals the second, which is reported and never accepted', () => {
  const a = load('iomap-no-validity-check.json');
  const b = load('mkwrite-ifs-zeroed.json');
  const target = manifest.find((m) => m.switch === 'iomap-no-validity-check')!.signature;
  const other = manifest.find((m) => m.switch === 'mkwrite-ifs-zeroed')!.signature;
  const bugs: BugSet = new Set<BugName>(['iomap-no-validity-check', 'mkwrite-ifs-zeroed']);
  const p = combine(a, b);
  assert.equal(runProgram(p, { bugs }).violation?.signature, target);
  const seen: string[] = [];
  const r = minimizeProgram(p, { bugs, onNewFinding: (sig, prog) => {
    seen.push(sig);
    assert.equal(runProgram(prog, { bugs }).violation?.signature, sig);
  } });
  assert.ok(seen.includes(other), `saw ${seen.join(', ')}`);
  assert.equal(new Set(seen).size, seen.length, 'each new signature reported once');
  assert.ok(!seen.includes(target));
  checkResult(r, p, bugs, target);
  assert.ok(r.opsAfter <= programSize(a));
});

test('the run budget is kept', () => {
  const e = manifest.find((m) => m.switch === 'ext4-dio-fallback-no-drain')!;
  const program = load(e.program);
  const bugs: BugSet = new Set([e.switch]);
  const bloated = bloatReproducing(program, bugs, e.signature)!;
  const r = minimizeProgram(bloated, { bugs, maxRuns: 50 });
  // Three confirming runs and one of the frozen schedule, the budget, and at most one recording run past it.
  assert.ok(r.runs <= 4 + 50 + 1, `${r.runs} runs`);
  checkResult(r, bloated, bugs, e.signature);
});

test('cutting an mmap or an aio_write cuts the ops that refer to it', () => {
  const p: Program = {
    version: 1,
    config: { fs: 'xfs', inode: 'extent', blockSize: 4096, folioMax: 4096 },
    files: [{ name: 'f' }],
    fds: [{ file: 0, direct: true }],
    threads: [{ ops: [
      { op: 'mmap', map: 0, fd: 0, off: 0, len: 4096, prot: 'rw' },
      { op: 'aio_write', fd: 0, off: 0, len: 4096, fill: 1, iocb: 1 },
      { op: 'mread', map: 0, off: 0, len: 10 },
      { op: 'aio_wait', iocb: 1 },
      { op: 'fsync', fd: 0 },
    ] }],
  };
  assert.deepEqual(cutOps(p, [{ thread: 0, index: 0 }]).threads[0]!.ops.map((o) => o.op), ['aio_write', 'aio_wait', 'fsync']);
  assert.deepEqual(cutOps(p, [{ thread: 0, index: 1 }]).threads[0]!.ops.map((o) => o.op), ['mmap', 'mread', 'fsync']);
  assert.equal(p.threads[0]!.ops.length, 5, 'the input is left alone');
});

test('a deadline already past stops after confirming, returning the frozen input', () => {
  const e = manifest.find((m) => m.switch === 'set-uptodate-during-read')!;
  const program = load(e.program);
  const bugs: BugSet = new Set([e.switch]);
  const bloated = bloatReproducing(program, bugs, e.signature)!;
  const r = minimizeProgram(bloated, { bugs, deadlineMs: -1 });
  assert.equal(r.opsAfter, r.opsBefore);
  checkResult(r, bloated, bugs, e.signature);
});

/** A campaign's first program of a finding, kept as a fixture (test/fixtures). */
function campaignFixture(name: string): { switch: BugName; signature: string; program: Program } {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../test/fixtures/${name}.json`, import.meta.url)), 'utf8')) as
    { switch: BugName; signature: string; program: Program };
}

function handWrittenSize(sw: BugName): number {
  return programSize(load(manifest.find((m) => m.switch === sw)!.program));
}

test('a campaign program whose last ops only shaped the interleaving shrinks below the hand-written size (final cuts under the preemption search)', () => {
  const fx = campaignFixture('set-uptodate-during-read-campaign');
  const bugs: BugSet = new Set([fx.switch]);
  const r = minimizeProgram(fx.program, { bugs, maxRuns: 3000 });
  checkResult(r, fx.program, bugs, fx.signature);
  assert.ok(r.opsAfter <= handWrittenSize(fx.switch), `${r.opsAfter} ops`);
  const final = r.stages.find((s) => s.name === 'ddmin-final');
  assert.ok(final, 'the final single-op pass ran');
});

test('a six-thread campaign program: thread drops leave ddmin a budget, and it ends at the hand-written size or below', () => {
  const fx = campaignFixture('ext4-dio-fallback-six-threads-campaign');
  const bugs: BugSet = new Set([fx.switch]);
  const r = minimizeProgram(fx.program, { bugs, maxRuns: 3000 });
  checkResult(r, fx.program, bugs, fx.signature);
  const drops = r.stages.find((s) => s.name === 'drop-threads')!;
  assert.ok(drops.runs < 3000 * 0.5, `drop-threads took ${drops.runs} runs`);
  assert.ok(r.opsAfter <= handWrittenSize(fx.switch), `${r.opsAfter} ops`);
});

/** Minimize a campaign fixture with the default budget: a valid result, at or below the hand-written size. */
function minimizeFixture(name: string): { input: Program; result: Program } {
  const fx = campaignFixture(name);
  const bugs: BugSet = new Set([fx.switch]);
  const r = minimizeProgram(fx.program, { bugs, signature: fx.signature });
  checkResult(r, fx.program, bugs, fx.signature);
  assert.ok(r.opsAfter <= handWrittenSize(fx.switch), `${r.opsAfter} ops`);
  return { input: fx.program, result: r.program };
}

const opsOf = (p: Program): Op[] => p.threads.flatMap((t) => t.ops);

test('a 90-op six-thread campaign program under a random schedule ends at the hand-written size or below (decisions move with the cuts)', () => {
  minimizeFixture('ext4-dio-fallback-90-ops-campaign');
});

test('a fault that skipped the I/O of ops before its target moves down to it, and those ops go', () => {
  const { result } = minimizeFixture('fuse-clear-uptodate-ifs-fault-skip-campaign');
  assert.ok(opsOf(result).some((op) => op.op === 'fail_bio' && op.skip === 0), 'the fault fails the first I/O after it');
});

test('a power cut that only emptied the page cache becomes a remount or drop_caches', () => {
  const { input, result } = minimizeFixture('fuse-clear-uptodate-ifs-power-cut-campaign');
  assert.ok(opsOf(input).some((op) => op.op === 'power_cut'));
  assert.ok(!opsOf(result).some((op) => op.op === 'power_cut'), 'no power cut left');
});

// The parts of a kernel campaign that need no kernel: which configs, which
// programs the differential compares op by op, the sim's search for a
// kernel finding, and the origin stored with such a finding.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Program } from '../../../worker/prog/types.js';
import { parseRepro } from '../../../worker/repro/repro.js';
import { simSearchText, twinOriginFromJson } from '../../../worker/report/twin-origin.js';
import { ALL_TWIN_CONFIGS, configName, forTwin, parseTwinConfigs } from '../../../worker/twin/configs.js';
import { isSequential } from '../../../worker/twin/differential.js';
import { searchDivergenceInSim, searchInSim } from '../../../worker/twin/sim-search.js';
import { runProgram } from '../../../worker/exec/run.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

function fixture(name: string): Program {
  const file = join(ROOT, 'test', 'fixtures', name);
  return parseRepro(readFileSync(file, 'utf8'), file).program;
}

function corpus(path: string): Program {
  const file = join(ROOT, 'corpus', path);
  return parseRepro(readFileSync(file, 'utf8'), file).program;
}

test('configs: every kind at every block size by default; a list is checked item by item', () => {
  assert.equal(ALL_TWIN_CONFIGS.length, 12);
  assert.deepEqual(parseTwinConfigs('xfs:1024, ext4-indirect:2048,xfs:1024').map(configName), ['xfs:1024', 'ext4-indirect:2048']);
  assert.throws(() => parseTwinConfigs('btrfs:4096'), /--configs: 'btrfs:4096': the filesystem is one of xfs, ext4, ext4-indirect, fuse/);
  assert.throws(() => parseTwinConfigs('ext4:512'), /'ext4:512': the block size is one of 1024, 2048, 4096/);
  assert.throws(() => parseTwinConfigs(' , '), /no config given/);
});

test('forTwin: faults dropped; a sequential cut keeps the first thread without timed ops, and is what isSequential compares', () => {
  const p = corpus('known/errseq-report-once-global.json');
  assert.ok(p.threads.some((t) => t.ops.some((o) => o.op === 'fail_bio')));
  const twin = forTwin(p, { fs: 'ext4', inode: 'extent', blockSize: 1024 });
  assert.ok(twin);
  assert.ok(twin.threads.every((t) => t.ops.every((o) => o.op !== 'fail_bio')));
  assert.deepEqual(twin.config, { ...p.config, fs: 'ext4', inode: 'extent', blockSize: 1024 });

  const aio = corpus('known/aio-dio-no-invalidate.json');
  assert.ok(aio.threads.flatMap((t) => t.ops).some((o) => o.op.startsWith('aio_')));
  assert.equal(isSequential(aio), false);
  const cut = forTwin(aio, { fs: 'xfs', inode: 'extent', blockSize: 4096 }, true);
  assert.ok(cut);
  assert.equal(cut.threads.length, 1);
  assert.ok(cut.threads[0]!.ops.every((o) => !['aio_write', 'aio_read', 'aio_wait', 'writeback_kick', 'reclaim'].includes(o.op)));
  assert.equal(isSequential(cut), true);
});

test('the sim search finds a kernel finding under the switch that restores the kernel, and nothing for a clean program', () => {
  const fuse = corpus('known/fuse-writethrough-eof-zeroed.json');
  // What a kernel's trace names the loss by: what was read instead.
  const kernel = { signature: 'DATA mismatch write <- zeroes @ filemap_read', kind: 'DATA' as const };
  const found = searchInSim(fuse, kernel);
  assert.ok(found, 'the fuse write-through race is in the sim, behind its switch');
  assert.deepEqual(found.switches, ['fuse-writethrough-eof-zeroed']);
  // Reported as the sim names it: by its cause.
  assert.equal(found.signature, 'DATA lost-write write <- zeroed @ iomap_writeback_handle_eof');
  assert.match(simSearchText({ source: 'kernel', config: 'fuse:4096', sim: found }) ?? '', /^the sim shows it with fuse-writethrough-eof-zeroed \(DATA .*; schedule \d+, folios up to \d+ bytes\): a known kernel bug$/);

  const clean = corpus('regress/fuse-copy-range-failed-write-store-lost.json');
  const cleanTwin = forTwin(clean, { fs: 'ext4', inode: 'extent', blockSize: 4096 });
  assert.ok(cleanTwin);
  assert.equal(searchInSim(cleanTwin, kernel, 4), null);
  assert.match(simSearchText({ source: 'kernel', config: 'ext4:4096', sim: null, searched: 4 }) ?? '', /does not show it \(4 schedules with each switch and folio size\): behaviour the sim lacks/);
});

test('a stored origin is read back field by field; a bad one names the field', () => {
  const o = { source: 'kernel', config: 'ext4:1024', sim: { switches: ['dio-extend-no-isize-extended'], signature: 'DATA x @ y', schedules: 1, folioMax: 4096 }, searched: 64 };
  assert.deepEqual(twinOriginFromJson(JSON.parse(JSON.stringify(o)), 'twin'), o);
  assert.deepEqual(twinOriginFromJson({ source: 'divergence', config: 'xfs:4096' }, 'twin'), { source: 'divergence', config: 'xfs:4096' });
  assert.throws(() => twinOriginFromJson({ source: 'elsewhere', config: 'x' }, 'twin'), /twin\.source: not one of kernel, divergence, sim/);
  assert.throws(() => twinOriginFromJson({ ...o, sim: { ...o.sim, switches: [1] } }, 'twin'), /twin\.sim\.switches: not a list of names/);
  assert.throws(() => twinOriginFromJson([], 'twin'), /twin: not an object/);
});

test('a divergence is explained by the switch under which the sim runs the program as the kernel did', () => {
  // 6.18 keeps a store past EOF in the cache after an extending direct write
  // on ext4 (the switch dio-extend-no-isize-extended); a fixed kernel zeroes it.
  const p = fixture('ext4-indirect-dio-extend-keeps-post-eof-store.json');
  assert.equal(runProgram(p, { record: true }).files[0]!.data[19702], 0);
  // What 6.18 did, as a trace: the sim's run with mainline's behaviour (the kernel's own trace is judged alike in test/twin).
  const kernelLike = runProgram(p, { bugs: new Set(['dio-extend-no-isize-extended']), record: true }).trace!;
  const found = searchDivergenceInSim(p, kernelLike, 'DIVERGENCE final:contents-cache @ ext4-indirect');
  assert.deepEqual(found && { switches: found.switches, folioMax: found.folioMax }, { switches: ['dio-extend-no-isize-extended'], folioMax: 4096 });
  const fixed = runProgram(p, { record: true }).trace!;
  assert.deepEqual(searchDivergenceInSim(p, fixed, 'x')?.switches, [], 'a run the sim makes with every switch off needs none');
});

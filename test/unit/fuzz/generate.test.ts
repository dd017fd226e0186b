// The fuzz generator: valid programs, deterministic per seed, covering the
// configs and the race ingredients the storage bugs need.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runProgram } from '../../../worker/exec/run.js';
import { generateProgram, threadOps } from '../../../worker/fuzz/generate.js';
import { GEN_WEIGHTS, NO_SCENES, OpGen } from '../../../worker/fuzz/op-gen.js';
import { scene, sceneStoresBehindWrite } from '../../../worker/fuzz/scenes.js';
import { interestingValues } from '../../../worker/fuzz/interesting.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { OP_NAMES } from '../../../worker/prog/ops.js';
import type { OpName, Program } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';

function gen(seed: number): Program {
  return generateProgram(new FuzzRng(seed));
}

describe('generateProgram', () => {
  it('makes valid programs that run without harness errors', () => {
    for (let seed = 1; seed <= 1500; seed++) {
      const p = gen(seed);
      assert.deepEqual(validateProgram(structuredClone(p), `seed ${seed}`), p);
      const ops = p.threads.reduce((n, t) => n + t.ops.length, 0);
      assert.ok(p.threads.length >= 1 && p.threads.length <= 4, `seed ${seed}: ${p.threads.length} threads`);
      assert.ok(ops >= 1 && ops <= 80, `seed ${seed}: ${ops} ops`);
      if (seed <= 500) assert.equal(runProgram(p).harnessError, null, `seed ${seed}`);
    }
  });

  it('is deterministic per seed', () => {
    for (let seed = 1; seed <= 50; seed++) assert.deepEqual(gen(seed), gen(seed));
    assert.notDeepEqual(gen(1), gen(2));
  });

  it('draws every config kind, block size and the ingredients of the known bugs', () => {
    const kinds = new Set<string>();
    const blocks = new Set<number>();
    const folios = new Set<number>();
    const ops = new Map<OpName, number>();
    const fallocModes = new Set<string>();
    let multi = 0;
    let directFd = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const p = gen(seed);
      kinds.add(`${p.config.fs}/${p.config.inode}`);
      blocks.add(p.config.blockSize);
      folios.add(p.config.folioMax);
      if (p.threads.length > 1) {
        multi++;
        assert.ok(p.schedule && p.schedule.strategy !== 'default', `seed ${seed}: threads without a schedule`);
        assert.ok(p.schedule.depth >= 1 && p.schedule.depth <= 4);
      }
      if (p.fds.some((f) => f.direct)) directFd++;
      for (const t of p.threads) {
        for (const op of t.ops) {
          ops.set(op.op, (ops.get(op.op) ?? 0) + 1);
          if (op.op === 'fallocate') fallocModes.add(op.mode);
        }
      }
    }
    assert.deepEqual([...kinds].sort(), ['ext4/extent', 'ext4/indirect', 'fuse/extent', 'xfs/extent']);
    assert.deepEqual([...blocks].sort(), [1024, 2048, 4096]);
    assert.deepEqual([...folios].sort((a, b) => a - b), [4096, 8192, 16384, 32768, 65536]);
    assert.ok(multi > 300 && multi < 900, `${multi} multi-threaded`);
    assert.ok(directFd > 300, `${directFd} with an O_DIRECT fd`);
    for (const name of ['aio_write', 'aio_wait', 'fail_bio', 'writeback_kick', 'reclaim', 'mmap', 'mwrite', 'truncate', 'pread', 'pwrite'] as const) {
      assert.ok((ops.get(name) ?? 0) >= 60, `${name}: ${ops.get(name) ?? 0}`);
    }
    for (const mode of ['keep_size', 'punch', 'zero', 'alloc']) assert.ok(fallocModes.has(mode), mode);
  });

  it('weighs every op of the schema, once (aio_wait only follows a submit)', () => {
    assert.deepEqual(GEN_WEIGHTS.map(([name]) => name).sort(), [...OP_NAMES].sort());
    assert.deepEqual(GEN_WEIGHTS.filter(([, w]) => w === 0).map(([name]) => name), ['aio_wait']);
  });

  it('mostly aligns AIO to sectors', () => {
    let aio = 0;
    let aligned = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const p = gen(seed);
      for (const t of p.threads) {
        for (const op of t.ops) {
          if (op.op !== 'aio_write' && op.op !== 'aio_read') continue;
          assert.ok(p.fds[op.fd]!.direct, 'AIO on a buffered fd');
          aio++;
          if (op.off % 512 === 0 && op.len % 512 === 0) aligned++;
        }
      }
    }
    assert.ok(aio > 100 && aligned / aio > 0.8, `${aligned}/${aio} aligned`);
  });
});

describe('generateProgram without scenes (fuzz --no-scenes)', () => {
  const config = { fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 16384 } as const;
  const fds = [{ file: 0, direct: false }, { file: 0, direct: true }];

  it('never plays a scene (scenes.ts asserts it is not called with scenes off)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const g = new OpGen(new FuzzRng(seed), config, fds, 1, NO_SCENES);
      assert.doesNotThrow(() => threadOps(g, 0, 30), `seed ${seed}`);
      assert.doesNotThrow(() => generateProgram(new FuzzRng(seed), NO_SCENES), `seed ${seed}`);
    }
    // The assertion is live.
    assert.throws(() => scene(new OpGen(new FuzzRng(1), config, fds, 1, NO_SCENES), 0), /scenes off/);
    assert.throws(() => sceneStoresBehindWrite(new OpGen(new FuzzRng(1), config, fds, 1, NO_SCENES)), /scenes off/);
  });

  it('makes valid, deterministic programs that differ from the ones with scenes', () => {
    let differ = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const p = generateProgram(new FuzzRng(seed), NO_SCENES);
      assert.deepEqual(validateProgram(structuredClone(p), `seed ${seed}`), p);
      assert.deepEqual(generateProgram(new FuzzRng(seed), NO_SCENES), p);
      if (seed <= 100) assert.equal(runProgram(p).harnessError, null, `seed ${seed}`);
      if (JSON.stringify(p) !== JSON.stringify(gen(seed))) differ++;
    }
    assert.ok(differ > 250, `${differ}/300 differ`);
  });
});

describe('interestingValues', () => {
  it('has the block, folio and EOF edges and their neighbours', () => {
    const v = interestingValues({ fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 16384 }, 5000);
    for (const x of [0, 1, 512, 1023, 1024, 1025, 16383, 16384, 16385, 4999, 5000, 5001, 4608, 5120]) assert.ok(v.includes(x), String(x));
    assert.deepEqual(v, [...v].sort((a, b) => a - b));
    assert.ok(v.every((x) => x >= 0));
  });
});

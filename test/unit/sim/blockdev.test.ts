// The block device: visible after completion, durable after a flush or FUA.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type Bio, BioOp, BlockDevice, SECTOR_SIZE, SparseStore } from '../../../worker/sim/blockdev.js';
import { Sched } from '../../../worker/sim/sched.js';

function bio(op: BioOp, sector: number, buf: Uint8Array, flags: { preflush?: boolean; fua?: boolean } = {}, done?: (b: Bio) => void): Bio {
  return {
    op, sector, buf, preflush: flags.preflush ?? false, fua: flags.fua ?? false, status: 0, owner: 'test',
    endIo: (b) => done?.(b),
  };
}

function filled(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

function read(dev: BlockDevice, which: 'visible' | 'durable', off: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  if (which === 'visible') dev.readVisible(off, b);
  else dev.readDurable(off, b);
  return b;
}

function setup(): { s: Sched; dev: BlockDevice } {
  const s = new Sched(10_000);
  return { s, dev: new BlockDevice(s, 1 << 16) };
}

test('blockdev: a write is visible only after it completes, and not durable without a flush', () => {
  const { s, dev } = setup();
  let completed = false;
  dev.submitBio(bio(BioOp.Write, 8, filled(1024, 0xab), {}, () => (completed = true)));
  assert.equal(dev.inflight, 1);
  assert.deepEqual(read(dev, 'visible', 8 * SECTOR_SIZE, 1024), filled(1024, 0), 'not visible before completion');
  assert.equal(s.run().kind, 'done');
  assert.equal(completed, true);
  assert.equal(dev.inflight, 0);
  assert.deepEqual(read(dev, 'visible', 8 * SECTOR_SIZE, 1024), filled(1024, 0xab));
  assert.deepEqual(read(dev, 'durable', 8 * SECTOR_SIZE, 1024), filled(1024, 0), 'volatile cache only');
});

test('blockdev: an empty preflush bio makes completed writes durable', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Write, 0, filled(512, 1)));
  dev.submitBio(bio(BioOp.Write, 100, filled(2048, 2)));
  s.run();
  dev.submitBio(bio(BioOp.Flush, 0, new Uint8Array(0), { preflush: true }));
  s.run();
  assert.deepEqual(read(dev, 'durable', 0, 512), filled(512, 1));
  assert.deepEqual(read(dev, 'durable', 100 * SECTOR_SIZE, 2048), filled(2048, 2));
});

test('blockdev: a flush does not make durable a write that completes after it', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Flush, 0, new Uint8Array(0), { preflush: true }));
  dev.submitBio(bio(BioOp.Write, 0, filled(512, 7)));
  s.run();
  assert.deepEqual(read(dev, 'visible', 0, 512), filled(512, 7));
  assert.deepEqual(read(dev, 'durable', 0, 512), filled(512, 0));
});

test('blockdev: a write with REQ_PREFLUSH flushes earlier writes first (its own data stays volatile)', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Write, 0, filled(512, 1)));
  s.run();
  dev.submitBio(bio(BioOp.Write, 1, filled(512, 2), { preflush: true }));
  s.run();
  assert.deepEqual(read(dev, 'durable', 0, 512), filled(512, 1));
  assert.deepEqual(read(dev, 'durable', 512, 512), filled(512, 0));
});

test('blockdev: REQ_FUA makes the write itself durable at completion', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Write, 4, filled(512, 9), { fua: true }));
  s.run();
  assert.deepEqual(read(dev, 'durable', 4 * SECTOR_SIZE, 512), filled(512, 9));
});

test('blockdev: later writes overwrite earlier ones; a read bio sees the visible data', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Write, 0, filled(1024, 1)));
  dev.submitBio(bio(BioOp.Write, 1, filled(512, 2)));
  s.run();
  const dst = new Uint8Array(1024);
  let status = -1;
  dev.submitBio(bio(BioOp.Read, 0, dst, {}, (b) => (status = b.status)));
  s.run();
  assert.equal(status, 0);
  assert.deepEqual(dst.subarray(0, 512), filled(512, 1));
  assert.deepEqual(dst.subarray(512), filled(512, 2));
});

test('blockdev: bios must be whole sectors inside the device', () => {
  const { dev } = setup();
  assert.throws(() => dev.submitBio(bio(BioOp.Write, 0, new Uint8Array(100))));
  assert.throws(() => dev.submitBio(bio(BioOp.Write, (1 << 16) - 1, new Uint8Array(1024))));
});

test('SparseStore: unwritten bytes read as zero; writes across chunk boundaries', () => {
  const st = new SparseStore();
  const src = new Uint8Array(70000).map((_, i) => (i % 251) + 1);
  st.write(65000, src);
  const back = new Uint8Array(70010);
  st.read(64995, back);
  assert.deepEqual(back.subarray(0, 5), new Uint8Array(5));
  assert.deepEqual(back.subarray(5, 70005), src);
  assert.deepEqual(back.subarray(70005), new Uint8Array(5));
});

/** Sectors of [off, off+n) that hold `byte` (else they must hold `old`). */
function sectorsWith(dev: BlockDevice, which: 'visible' | 'durable', off: number, n: number, byte: number, old: number): number {
  const b = read(dev, which, off, n);
  let count = 0;
  for (let o = 0; o < n; o += SECTOR_SIZE) {
    const sec = b.subarray(o, o + SECTOR_SIZE);
    if (sec.every((x) => x === byte)) count++;
    else assert.ok(sec.every((x) => x === old), `sector at ${off + o} is torn inside, or holds neither old nor new data`);
  }
  return count;
}

test('power cut: flushed data survives; unflushed sectors keep old or new data whole, per the seed', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Write, 0, filled(4096, 1)));
  s.run();
  dev.submitBio(bio(BioOp.Flush, 0, new Uint8Array(0), { preflush: true }));
  s.run();
  dev.submitBio(bio(BioOp.Write, 0, filled(32 * SECTOR_SIZE, 2)));
  s.run();
  const r = dev.powerCut(7);
  assert.deepEqual(r.uncertain, [0, 32 * SECTOR_SIZE]);
  assert.equal(r.survived + r.lost, 32);
  assert.ok(r.survived > 0 && r.lost > 0, 'seed 7 tears the write');
  // Sectors 8.. were never flushed with 1s: they hold 2 or 0.
  const newInFlushed = sectorsWith(dev, 'durable', 0, 4096, 2, 1);
  const newBeyond = sectorsWith(dev, 'durable', 4096, 24 * SECTOR_SIZE, 2, 0);
  assert.equal(newInFlushed + newBeyond, r.survived);
  assert.deepEqual(read(dev, 'visible', 0, 32 * SECTOR_SIZE), read(dev, 'durable', 0, 32 * SECTOR_SIZE), 'the cache is gone');
});

test('power cut: the same seed tears the same sectors', () => {
  const run = (seed: number): Uint8Array => {
    const { s, dev } = setup();
    dev.submitBio(bio(BioOp.Write, 0, filled(64 * SECTOR_SIZE, 3)));
    s.run();
    dev.powerCut(seed);
    return read(dev, 'durable', 0, 64 * SECTOR_SIZE);
  };
  assert.deepEqual(run(11), run(11));
  assert.notDeepEqual(run(11), run(12));
});

test('power cut: an in-flight write is torn and its bio completes with -EIO without touching the new media', () => {
  const { s, dev } = setup();
  let status = 1;
  dev.submitBio(bio(BioOp.Write, 16, filled(16 * SECTOR_SIZE, 5), {}, (b) => (status = b.status)));
  const r = dev.powerCut(3);
  assert.equal(r.aborted, 1);
  assert.deepEqual(r.uncertain, [16 * SECTOR_SIZE, 16 * SECTOR_SIZE]);
  const landed = sectorsWith(dev, 'durable', 16 * SECTOR_SIZE, 16 * SECTOR_SIZE, 5, 0);
  assert.equal(landed, r.survived);
  assert.equal(s.run().kind, 'done');
  assert.equal(status, -5);
  assert.equal(dev.inflight, 0);
  assert.equal(sectorsWith(dev, 'visible', 16 * SECTOR_SIZE, 16 * SECTOR_SIZE, 5, 0), landed, 'the late completion wrote nothing');
});

test('power cut: FUA writes and writes before a flush are not uncertain', () => {
  const { s, dev } = setup();
  dev.submitBio(bio(BioOp.Write, 0, filled(1024, 9), { fua: true }));
  s.run();
  const r = dev.powerCut(1);
  assert.deepEqual(r.uncertain, []);
  assert.deepEqual(read(dev, 'visible', 0, 1024), filled(1024, 9));
});

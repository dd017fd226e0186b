// The byte pool: memory recycled between runs must look exactly like new
// memory, so a run's outcome cannot depend on the runs before it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import { POISON_INUSE, allocUnwrittenBytes, copyBytes, setBytePoison, takeBytes, takeBytesToOverwrite, withByteScope } from '../../../worker/sim/byte-pool.js';
import { FGP_CREAT, FGP_LOCK, FolioPool } from '../../../worker/sim/include/pagemap.js';
import { filemapGetFolio } from '../../../worker/sim/mm/filemap.js';
import { folioMarkUptodate, folioPut, folioUnlock } from '../../../worker/sim/mm/folio.js';
import { sysFtruncate, sysPread, sysPwrite } from '../../../worker/sim/vfs/syscalls.js';
import { assertBytes, drive, newKernel } from './helpers.js';
import { CONFIGS, generateConcurrentProgram } from '../../property/gen.js';
import { knownRepros } from '../repro/known.js';

test('outside a scope takeBytes is a plain zeroed allocation of the exact size', () => {
  const a = takeBytes(5000);
  assert.equal(a.length, 5000);
  assert.equal(a.byteOffset, 0);
  assert.equal(a.buffer.byteLength, 5000);
  assert.ok(a.every((b) => b === 0));
});

test('a buffer given back at the end of a scope comes back zeroed in the next one', () => {
  let first: Uint8Array | null = null;
  withByteScope(() => {
    first = takeBytes(6000);
    first.fill(0xab);
  });
  const again = withByteScope(() => {
    const b = takeBytes(6000);
    assert.equal(b.length, 6000);
    assert.ok(b.every((x) => x === 0), 'recycled memory reads as zeroes');
    return b;
  });
  // Recycled, not reallocated: the same memory (a view of an 8 KiB class buffer).
  assert.equal(again.buffer, first!.buffer);
  assert.equal(again.buffer.byteLength, 8192);
});

test('buffers taken in a scope go back even when it throws, and a nested scope belongs to the outer one', () => {
  let taken: Uint8Array | null = null;
  assert.throws(() =>
    withByteScope(() => {
      withByteScope(() => {
        taken = takeBytes(1 << 16);
        taken.fill(7);
      });
      // Still this run's: the inner scope did not give it back.
      assert.equal(taken![0], 7);
      throw new Error('boom');
    }),
  /boom/);
  withByteScope(() => {
    const b = takeBytes(1 << 16);
    assert.equal(b.buffer, taken!.buffer);
    assert.equal(b[0], 0);
  });
});

test('small requests are not pooled', () => {
  withByteScope(() => {
    const s = takeBytes(100);
    assert.equal(s.buffer.byteLength, 100);
  });
});

function outcome(r: RunResult): string {
  const files = r.files.map((f) => `${f.name}:${Buffer.from(f.data).toString('base64')}`);
  return JSON.stringify({ v: r.violation, h: r.harnessError, steps: r.steps, results: r.results, files });
}

test('a run gives the same result whatever ran before it (known reproducers and PCT programs, two orders)', () => {
  const runs: (() => RunResult)[] = [];
  for (const k of knownRepros()) runs.push(() => runProgram(k.program, { bugs: new Set([k.name]) }));
  for (let i = 0; i < 12; i++) {
    const p = generateConcurrentProgram(7_001 + i, CONFIGS[i % CONFIGS.length]!, 3, [6, 12]);
    const program = { ...p, schedule: { strategy: 'pct' as const, seed: i, depth: 3, decisions: [] } };
    runs.push(() => runProgram(program));
  }
  const forward = runs.map((run) => outcome(run()));
  const backward = [...runs].reverse().map((run) => outcome(run())).reverse();
  assert.ok(forward.some((o) => o.includes('"signature"')), 'some runs find their bug');
  for (let i = 0; i < runs.length; i++) assert.equal(backward[i], forward[i], `run ${i} depends on the runs before it`);
});

/** Run fn with poisoning set to `on`, restoring what the suite runs with (FOLIOFUZZ_POISON). */
function withPoison<T>(on: boolean, fn: () => T): T {
  setBytePoison(on);
  try {
    return fn();
  } finally {
    setBytePoison(process.env['FOLIOFUZZ_POISON'] === '1');
  }
}

test('poisoning: folio memory, new or recycled, reads as POISON_INUSE; off, it is zeroed or stale', () => {
  withPoison(true, () => withByteScope(() => {
    const pool = new FolioPool();
    const fresh = pool.alloc(1);
    assertBytes(fresh, 0, fresh.length, POISON_INUSE, 'new folio');
    fresh.fill(0x11);
    pool.free(1, fresh);
    const again = pool.alloc(1);
    assert.equal(again, fresh, 'recycled within the run');
    assertBytes(again, 0, again.length, POISON_INUSE, 'recycled folio');
  }));
  withPoison(false, () => withByteScope(() => {
    const pool = new FolioPool();
    const fresh = pool.alloc(0);
    assertBytes(fresh, 0, fresh.length, 0, 'new folio, fast path');
    fresh.fill(0x11);
    pool.free(0, fresh);
    assertBytes(pool.alloc(0), 0, fresh.length, 0x11, 'recycled folio, fast path (stale, as the page allocator leaves it)');
  }));
});

test('poisoning: a recycled copy (poisoned, then overwritten) holds exactly the source', () => {
  withPoison(true, () => {
    let old: Uint8Array | null = null;
    withByteScope(() => (old = takeBytes(6000)).fill(0x22));
    withByteScope(() => {
      const src = new Uint8Array(5000).fill(0x33);
      const copy = copyBytes(src);
      assert.equal(copy.buffer, old!.buffer, 'recycled');
      assert.equal(copy.length, 5000);
      assertBytes(copy, 0, 5000, 0x33, 'copy');
    });
  });
});

test('a buffer taken to overwrite is recycled as it was left, or poisoned under poisoning', () => {
  for (const poisoned of [false, true]) {
    withPoison(poisoned, () => {
      let old: Uint8Array | null = null;
      withByteScope(() => (old = takeBytes(6000)).fill(0x44));
      withByteScope(() => {
        const b = takeBytesToOverwrite(5000);
        assert.equal(b.buffer, old!.buffer, 'recycled');
        assert.equal(b.length, 5000);
        assertBytes(b, 0, 5000, poisoned ? POISON_INUSE : 0x44, poisoned ? 'poisoned' : 'stale');
      });
    });
  }
  assert.equal(takeBytesToOverwrite(5000).buffer.byteLength, 5000, 'outside a scope: a plain allocation');
});

/**
 * A page cache bug of the kind poisoning exists for: a folio added to the
 * cache and marked uptodate without ->read_folio or zeroing. A read then
 * returns memory nobody wrote: zeroes on the fast path, where a hole reads as
 * zeroes anyway and the data oracle sees nothing wrong, POISON_INUSE under
 * poisoning, where it compares as wrong bytes.
 */
function readOfUnwrittenFolio(): Uint8Array {
  const k = newKernel({ fs: 'xfs', blockSize: 4096 });
  const inode = k.createFile('f');
  const file = k.openFile(inode, false);
  const dst = new Uint8Array(4096);
  drive(k, function* () {
    yield* sysPwrite(k, file, 0, new Uint8Array(4096).fill(1));
    yield* sysFtruncate(k, file, 16384);
    const folio = (yield* filemapGetFolio(inode.mapping, 3, FGP_LOCK | FGP_CREAT, 0))!;
    folioMarkUptodate(folio);
    folioUnlock(k.sched, folio);
    folioPut(k.sched, folio);
    return yield* sysPread(k, file, 12288, dst);
  });
  return dst;
}

test('poisoning: a read of page cache memory nobody wrote shows up as wrong bytes', () => {
  const poisoned = withPoison(true, () => withByteScope(readOfUnwrittenFolio));
  assertBytes(poisoned, 0, poisoned.length, POISON_INUSE, 'hole read through an unread folio');
  const fast = withPoison(false, () => withByteScope(readOfUnwrittenFolio));
  assertBytes(fast, 0, fast.length, 0, 'the same read on the fast path (the bug hides)');
});

test('allocUnwrittenBytes: a plain Uint8Array over its own buffer, not recycled, poisoned under poisoning', () => {
  setBytePoison(true);
  try {
    const a = allocUnwrittenBytes(5000);
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, 5000);
    assert.ok(a.every((b) => b === POISON_INUSE));
    const b = withByteScope(() => allocUnwrittenBytes(5000));
    assert.notEqual(b.buffer, a.buffer);
    assert.equal(b.buffer.byteLength, 5000, 'not from the pool, even inside a scope');
  } finally {
    setBytePoison(process.env['FOLIOFUZZ_POISON'] === '1');
  }
});

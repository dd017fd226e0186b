// Byte provenance (worker/sim/provenance.ts) only observes: a run does the
// same with it or without it. And a DATA finding with it is always named by
// a cause (worker/exec/cause.ts), never by what was read alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RunResult, runProgram } from '../../../worker/exec/run.js';
import { generateProgram } from '../../../worker/fuzz/generate.js';
import { FuzzRng } from '../../../worker/fuzz/rng.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { Provenance } from '../../../worker/sim/provenance.js';
import { parseSignature } from '../../../worker/report/signature.js';
import type { RunViolation } from '../../../worker/report/violation.js';
import { BUG_SWITCHES, type BugName, type BugSet } from '../../../worker/sim/bugs.js';

const ALL: BugSet = new Set(BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name));

function outline(r: RunResult): unknown {
  return {
    results: r.results, steps: r.steps, harness: r.harnessError, schedule: r.schedule,
    violation: r.violation && [r.violation.kind, r.violation.invariant, r.violation.step, r.violation.stacks],
    files: r.files.map((f) => [f.name, Buffer.from(f.data).toString('base64')]),
  };
}

/**
 * The program (JSON) fires `signature` with the switch on, its cause in
 * words matching `words`, and nothing with every switch off.
 */
function assertNamed(json: string, bug: BugName, signature: string, words: RegExp): RunViolation {
  const p = validateProgram(JSON.parse(json), signature);
  const v = runProgram(p, { bugs: new Set([bug]) }).violation;
  assert.equal(v?.signature, signature, v?.message);
  assert.match(v.message, words);
  assert.equal(runProgram(p).violation, null, 'silent with the switch off');
  return v;
}

test('a run does the same with provenance as without it', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    for (const bugs of [new Set<never>(), ALL]) {
      const off = runProgram(p, { bugs, provenance: 'off' });
      const on = runProgram(p, { bugs, provenance: 'on' });
      assert.deepEqual(outline(on), outline(off), `seed ${seed}${bugs.size ? ', every switch' : ''}`);
    }
  }
});

test('with every switch on, each DATA finding is named by its cause, the same way every time', () => {
  // Generated programs until six DATA findings: most runs with every switch
  // on stop earlier, at an invariant or a WARN.
  let data = 0;
  for (let seed = 1; seed <= 3000 && data < 6; seed++) {
    const p = generateProgram(new FuzzRng(seed));
    const r = runProgram(p, { bugs: ALL });
    const v = r.violation;
    if (!v || v.kind !== 'DATA') continue;
    data++;
    const parts = parseSignature(v.signature)!;
    assert.equal(parts.version, 2, `seed ${seed}: ${v.signature}`);
    assert.ok(parts.cause ? parts.cause.cls !== 'mismatch' : /^read-error:/.test(parts.invariant), `seed ${seed}: ${v.signature}: ${v.message}`);
    assert.match(v.message, /; (byte \d+: |the read of the folio)/, `seed ${seed}: the cause in words`);
    // The default (provenance on a DATA finding only) names it as a run with provenance throughout does.
    assert.equal(runProgram(p, { bugs: ALL, provenance: 'on' }).violation?.signature, v.signature, `seed ${seed}`);
  }
  assert.equal(data, 6, `${data} DATA findings in 3,000 programs`);
});

test('a page cache that kept bytes over a completed direct write is the stale side, however recent those bytes', () => {
  // Two interleavings of aio-dio-no-invalidate (campaign seed 5), each
  // caught as the cache against the disk after a remount. The cached bytes
  // came after the direct write was submitted (a hole read while its extent
  // was unwritten; a buffered write racing it, written back before its bio
  // landed): newer by the clock, stale by the completion that kept them.
  const holeRead = validateProgram(JSON.parse('{"version":1,"config":{"fs":"xfs","inode":"extent","blockSize":4096,"folioMax":4096},"files":[{"name":"f0"}],"fds":[{"file":0,"direct":false},{"file":0,"direct":true}],"threads":[{"ops":[{"op":"pread","fd":0,"off":4096,"len":2048}]},{"ops":[{"op":"pwrite","fd":0,"off":8192,"len":4096,"fill":5},{"op":"aio_write","fd":1,"off":4096,"len":4096,"fill":5,"iocb":1}]}],"schedule":{"strategy":"replay","seed":661897432,"depth":3,"decisions":[{"at":"","op":0,"step":0,"nth":0,"run":"t1"}]}}'), 'hole read');
  const racingWrite = validateProgram(JSON.parse('{"version":1,"config":{"fs":"ext4","inode":"extent","blockSize":1024,"folioMax":4096},"files":[{"name":"f0"}],"fds":[{"file":0,"direct":false},{"file":0,"direct":true}],"threads":[{"ops":[{"op":"aio_write","fd":1,"off":0,"len":1024,"fill":2,"iocb":1},{"op":"pwrite","fd":0,"off":0,"len":512,"fill":3},{"op":"pread","fd":1,"off":0,"len":512}]},{"ops":[{"op":"pwrite","fd":0,"off":32768,"len":512,"fill":2}]}],"schedule":{"strategy":"replay","seed":1572620232,"depth":1,"decisions":[{"at":"","op":0,"step":0,"nth":0,"run":"t1"},{"at":"t0","op":2,"step":3,"nth":0,"run":"ev:iomap_writepage_end_bio#0"}]}}'), 'racing write');
  const bugs: BugSet = new Set(['aio-dio-no-invalidate']);
  for (const [p, kept] of [[holeRead, 'read as a hole \\(t0 #0 pread\\)'], [racingWrite, 'written \\(t0 #1 pwrite\\)']] as const) {
    const v = runProgram(p, { bugs }).violation;
    assert.equal(v?.signature, 'DATA stale dio <- cached @ iomap_dio_complete', v?.message);
    assert.match(v.message, new RegExp(`\\(on the disk\\), the page cache kept bytes ${kept}, left in the page cache over the direct write as it completed in iomap_dio_complete$`));
    assert.equal(runProgram(p).violation, null, 'silent with the switch off');
  }
});

test('a durable byte a power cut lost is named by what lost it, and its writer is the one of the stable point', () => {
  // dio-extend-no-isize-extended on ext4 (indirect, 2 KiB blocks): the store
  // at 10240 goes through a pte the extending direct write left writable, so
  // page_mkwrite never reserved its block, and fsync's writeback skips it.
  // A later buffered write puts the same byte there; the cut drops that. The
  // byte fsync promised was the store's, lost at writeback.
  const v = assertNamed('{"version":1,"config":{"fs":"ext4","inode":"indirect","blockSize":2048,"folioMax":4096},"files":[{"name":"f0"}],"fds":[{"file":0,"direct":false},{"file":0,"direct":true}],"threads":[{"ops":[{"op":"truncate","fd":0,"size":10240},{"op":"mmap","map":0,"fd":0,"off":0,"len":16384,"prot":"rw"},{"op":"mwrite","map":0,"off":8192,"len":43,"fill":1},{"op":"pwrite","fd":1,"off":12288,"len":2048,"fill":1},{"op":"mwrite","map":0,"off":10240,"len":54,"fill":1},{"op":"fsync","fd":0},{"op":"pwrite","fd":0,"off":8192,"len":3072,"fill":1},{"op":"munmap","map":0},{"op":"power_cut","seed":125629506}]}]}', 'dio-extend-no-isize-extended', 'DATA lost-write write <- skipped @ iomap_writeback_range',
    /byte 10240: stored by t0 #4 mwrite, never written back: skipped by iomap_writeback_range; the reader got bytes read as a hole \(t0 #8 power_cut\)$/);
  assert.equal(v.invariant, 'power-cut:durable');
});

test('a truncate below the EOF a pte was made writable under lowers it: a store there after an extension is a loss at writeback, named as the others', () => {
  // dio-extend-no-isize-extended on xfs (1 KiB blocks): page 1 is made
  // writable while f0 is 9216 bytes; a truncate to 5120 frees the blocks past
  // it and leaves the pte writable; the extending direct write does not
  // write-protect it, so the store at 5120 lands in a block nothing reserved.
  assertNamed('{"version":1,"config":{"fs":"xfs","inode":"extent","blockSize":1024,"folioMax":4096},"files":[{"name":"f0"}],"fds":[{"file":0,"direct":false},{"file":0,"direct":true}],"threads":[{"ops":[{"op":"mmap","map":0,"fd":0,"off":0,"len":12288,"prot":"rw"},{"op":"fallocate","fd":0,"mode":"alloc","off":8192,"len":1024},{"op":"mwrite","map":0,"off":4096,"len":47,"fill":4},{"op":"truncate","fd":1,"size":5120},{"op":"pwrite","fd":1,"off":8192,"len":1024,"fill":4},{"op":"mwrite","map":0,"off":5120,"len":60,"fill":4}]}]}', 'dio-extend-no-isize-extended', 'DATA lost-write write <- skipped @ iomap_writeback_range',
    /byte 5120: stored by t0 #5 mwrite, never written back: skipped by iomap_writeback_range/);
});

test('a loss before a collapse range is found where the bytes were then: the cause, not the hole read after', () => {
  // dio-extend-no-isize-extended on ext4 (1 KiB blocks): the store at 2048
  // lands in a block page_mkwrite never reserved; the collapse range at 0
  // writes the file back first (writeback skips that block as a hole) and
  // moves the rest down by 1024, so the lost byte is read at 1024.
  assertNamed('{"version":1,"config":{"fs":"ext4","inode":"extent","blockSize":1024,"folioMax":4096},"files":[{"name":"f0"}],"fds":[{"file":0,"direct":false},{"file":0,"direct":true}],"threads":[{"ops":[{"op":"truncate","fd":0,"size":1024},{"op":"mmap","map":0,"fd":0,"off":0,"len":4096,"prot":"rw"},{"op":"mwrite","map":0,"off":0,"len":39,"fill":3},{"op":"pwrite","fd":1,"off":8192,"len":512,"fill":3},{"op":"mwrite","map":0,"off":2048,"len":83,"fill":3},{"op":"fallocate","fd":0,"mode":"collapse","off":0,"len":1024}]}]}', 'dio-extend-no-isize-extended', 'DATA lost-write write <- skipped @ iomap_writeback_range',
    /byte 1024: stored by t0 #4 mwrite, never written back: skipped by iomap_writeback_range/);
});

test('positionThen undoes the collapse and insert ranges since a drop, newest first', () => {
  const prov = new Provenance();
  const buf = new Uint8Array(8);
  prov.mark(buf, 0, 8, 'write', 'test');
  prov.droppedUnstored(7, 0, buf, 0, 8, 'dropped', 'test');
  const drop = prov.drops[0]!;
  prov.shifted(7, 1024, 1024, -1);
  prov.shifted(7, 0, 512, 1);
  prov.shifted(8, 0, 4096, -1);
  assert.equal(prov.positionThen(7, 2048, drop), 2560, 'after the insert at 0 (512) and the collapse at 1024 (1024)');
  assert.equal(prov.positionThen(7, 100, drop), -1, 'made by the insert');
  assert.equal(prov.positionThen(7, 600, drop), 88, 'below the collapse');
  assert.equal(prov.positionThen(9, 600, drop), 600, 'another file');
  prov.droppedUnstored(7, 0, buf, 0, 8, 'dropped', 'test');
  assert.equal(prov.positionThen(7, 2048, prov.drops[1]!), 2048, 'no shift since the later drop');
});

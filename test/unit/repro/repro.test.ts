// The native reproducer: JSON round trip, error messages with JSON paths, and
// replay with and without its switch, over every known reproducer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgramInputError } from '../../../worker/prog/errors.js';
import { makeRepro, parseRepro, replayRepro, reproJson } from '../../../worker/repro/repro.js';
import type { KernelVerdict } from '../../../worker/report/kernel-verdict.js';
import { SIM_VERSION } from '../../../worker/sim/version.js';
import { knownRepros } from './known.js';

const known = knownRepros();

for (const k of known) {
  test(`${k.name}: the repro carries the manifest's signature and round-trips through JSON`, () => {
    assert.equal(k.repro.signature, k.signature);
    assert.equal(k.repro.simVersion, SIM_VERSION);
    const withExtra = makeRepro(k.program, [k.name], null, { minimized: { opsBefore: 40, opsAfter: 6 }, foundAt: { exec: 1234, sec: 5 } });
    for (const r of [k.repro, withExtra]) assert.deepEqual(parseRepro(reproJson(r), 'x.json'), r);
  });

  test(`${k.name}: replays with its switch, deterministically, and stays silent without it`, () => {
    const on = replayRepro(k.repro, 3);
    assert.deepEqual(on, { reproduced: true, signature: k.signature === '' ? null : k.signature, deterministic: true });
    const off = replayRepro({ ...k.repro, bugs: [] }, 1);
    assert.equal(off.signature, null);
    assert.equal(off.reproduced, k.signature === '');
  });
}

test('a bare program parses as a repro with no switches and no expected signature', () => {
  const k = known[0]!;
  const r = parseRepro(JSON.stringify(k.program), 'p.json');
  assert.deepEqual(r.bugs, []);
  assert.equal(r.signature, '');
  assert.deepEqual(r.program, k.program);
});

function rejects(text: string, message: string): void {
  assert.throws(() => parseRepro(text, 'bad.json'), (e: unknown) => e instanceof ProgramInputError && e.message === message);
}

test('parseRepro errors name the source and the JSON path', () => {
  const good = JSON.parse(reproJson(known[0]!.repro)) as Record<string, unknown>;
  const bad = (patch: Record<string, unknown>): string => JSON.stringify({ ...good, ...patch });
  assert.throws(() => parseRepro('{', 'bad.json'), /^ProgramInputError: bad\.json: invalid JSON/);
  rejects('[]', 'bad.json: $: expected a reproducer or program object');
  rejects(bad({ format: 'other' }), 'bad.json: $.format: expected "foliofuzz-repro", got "other"');
  rejects(bad({ version: 2 }), 'bad.json: $.version: unsupported reproducer version 2 (this build reads 1)');
  rejects(bad({ bugs: ['no-such-bug'] }), 'bad.json: $.bugs[0]: unknown bug switch "no-such-bug" (see `foliofuzz bugs`)');
  rejects(bad({ signature: 3 }), 'bad.json: $.signature: expected a string, got 3');
  rejects(bad({ extra: 1 }), 'bad.json: $.extra: unknown field');
  rejects(bad({ minimized: { opsBefore: -1, opsAfter: 2 } }), 'bad.json: $.minimized.opsBefore: expected a non-negative integer, got -1');
  const prog = JSON.parse(JSON.stringify(good['program'])) as { threads: { ops: Record<string, unknown>[] }[] };
  prog.threads[0]!.ops[0]!['fd'] = 'x';
  assert.throws(() => parseRepro(bad({ program: prog }), 'bad.json'), (e: unknown) => e instanceof ProgramInputError && e.message.startsWith('bad.json: $.program.threads[0].ops[0].fd: '));
});

const SEEN: KernelVerdict = {
  verdict: 'reproduces', text: 'reproduces 1/50 on Linux 6.18.44 (xfs, 1024-byte blocks): WARN kernel-warning:fs/iomap/buffered-io.c @ iomap_zero_iter: ...',
  release: '6.18.44', fs: 'xfs, 1024-byte blocks', runs: 50, hits: 1, signature: 'WARN kernel-warning:fs/iomap/buffered-io.c @ iomap_zero_iter',
  detail: 'the kernel logged a WARNING', log: ['WARNING: CPU: 1 PID: 42 at fs/iomap/buffered-io.c:1464 iomap_zero_iter+0x132/0x1d0', 'Call Trace:'],
  at: '2026-12-07T19:50:00.000Z',
};

test('a reproducer carries the real kernel\'s verdict through JSON; a verdict stored before the kernel log was kept reads with none', () => {
  const r = { ...known[0]!.repro, kernel: SEEN };
  assert.deepEqual(parseRepro(reproJson(r), 'x.json'), r);
  const { log: _log, ...old } = SEEN;
  assert.deepEqual(parseRepro(JSON.stringify({ ...r, kernel: old }), 'x.json').kernel, { ...SEEN, log: [] });
});

test('a malformed kernel verdict in a reproducer is refused, naming the field', () => {
  const good = JSON.parse(reproJson(known[0]!.repro)) as Record<string, unknown>;
  const bad = (kernel: Record<string, unknown>): string => JSON.stringify({ ...good, kernel });
  rejects(bad({ ...SEEN, hits: 0 }), "bad.json: $.kernel.hits: 0 for a verdict 'reproduces'");
  rejects(bad({ ...SEEN, log: 'WARNING' }), 'bad.json: $.kernel.log: not a list of at most 200 lines');
  rejects(bad({ ...SEEN, log: ['ok', 7] }), 'bad.json: $.kernel.log[1]: not a line of at most 1024 characters');
  rejects(bad({ ...SEEN, log: ['x'.repeat(1025)] }), 'bad.json: $.kernel.log[0]: not a line of at most 1024 characters');
});

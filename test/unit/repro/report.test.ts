// The bug report export and what it explains: a finding's class in words,
// the switches a reproducer needs (found by running it), and numbers in
// generated text ("1 file", "the 2nd bio").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runProgram } from '../../../worker/exec/run.js';
import { CLASS_MEANINGS, attributeSwitches, classOf, switchesNeeded, switchesThatFire, switchesVerdict } from '../../../worker/repro/explain.js';
import { BUG_SWITCHES } from '../../../worker/sim/bugs.js';
import { SIM_VERSION } from '../../../worker/sim/version.js';
import { exportRepro } from '../../../worker/repro/export.js';
import { reportTitle } from '../../../worker/repro/report.js';
import { ordinal, plural } from '../../../worker/repro/words.js';
import type { KernelVerdict } from '../../../worker/report/kernel-verdict.js';
import { INVARIANT_KINDS } from '../../../worker/report/signature.js';
import { knownRepros } from './known.js';

const known = knownRepros();
const byName = (n: string): (typeof known)[number] => known.find((k) => k.name === n)!;

test('plurals and ordinals', () => {
  assert.deepEqual([plural(0, 'file'), plural(1, 'file'), plural(2, 'file'), plural(1234, 'op')], ['0 files', '1 file', '2 files', '1,234 ops']);
  assert.equal(plural(2, 'bug switch', 'bug switches'), '2 bug switches');
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 112].map(ordinal), ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '101st', '112th']);
});

test('every class of signature has a meaning, read through the signature parser', () => {
  for (const k of INVARIANT_KINDS) assert.ok(CLASS_MEANINGS[k].length > 20, k);
  assert.equal(classOf('WARN ifs_free:uptodate-mismatch @ ifs_free')?.kind, 'WARN');
  assert.equal(classOf('DEADLOCK a->b')?.kind, 'DEADLOCK');
  assert.equal(classOf('not a signature'), null);
});

test('the switches a known reproducer needs are its own switch, with another switch on too or with all of them', () => {
  const k = byName('set-uptodate-during-read');
  const withExtra = { ...k.repro, bugs: [...k.repro.bugs, 'mkwrite-ifs-zeroed' as const].sort() };
  assert.deepEqual(switchesNeeded(withExtra), { reproduces: true, observed: k.signature, needed: ['set-uptodate-during-read'] });
  assert.match(switchesVerdict(['set-uptodate-during-read']), /^needs set-uptodate-during-read \(seeded bug, iomap, 2025\): /);
  assert.match(switchesVerdict([]), /fires with every switch off: no seeded bug/);
  const fires = switchesThatFire(k.program);
  assert.deepEqual(fires, { signature: k.signature, needed: ['set-uptodate-during-read'] });
});

test('with every switch on, a known reproducer that shows its own signature is attributed to its switch alone', () => {
  const all = BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name);
  let attributed = 0;
  for (const k of known) {
    if (k.signature === '' || runProgram(k.program, { bugs: new Set(all) }).violation?.signature !== k.signature) continue;
    assert.deepEqual(attributeSwitches(k.program, k.signature, all), [k.name], k.name);
    attributed++;
  }
  assert.ok(attributed >= 8, `${attributed} known reproducers attributed`);
});

test('a report has a syzbot-style title and every section a kernel developer needs', () => {
  const k = byName('set-uptodate-during-read');
  const [file] = exportRepro(k.repro, 'report').files;
  assert.equal(file!.name, 'report.txt');
  const text = file!.text;
  assert.match(text, /^Subject: \[foliofuzz\] kernel BUG in folio_end_read \(folio_end_read:already-uptodate\)\n/);
  for (const h of ['Kernel', 'Filesystem', 'Reproducer', 'Interleaving', 'Expected and actual', 'Kernel functions involved']) {
    assert.match(text, new RegExp(`\n${h}[^\n]*\n-+\n`), h);
  }
  assert.match(text, /It needs this bug switch on[^\n]*\n {2}set-uptodate-during-read \(seeded bug, iomap, 2025\)/);
  assert.match(text, /mkfs\.xfs -f -b size=\d+ \/dev\/vdb/);
  assert.match(text, /expected: no BUG here\nactual: {3}BUG folio_end_read:already-uptodate/);
  assert.match(text, /\n {2}folio_end_read\n/);
});

test('a data report shows the expected and the actual byte, and what was read around it', () => {
  const data = known.filter((k) => k.signature.startsWith('DATA ') && k.repro.program.threads.length === 1);
  assert.ok(data.length > 0);
  let shown = 0;
  for (const k of data) {
    const text = exportRepro(k.repro, 'report').files[0]!.text;
    // The title names the cause: a lost write, stale data.
    assert.match(text, /^Subject: \[foliofuzz\] (lost write|stale data) in \S+ \(\S+ <- \S+\)\n/);
    const m = /at byte (\d+): expected 0x([0-9a-f]{2}), read 0x([0-9a-f]{2})/.exec(text);
    if (!m) continue;
    shown++;
    assert.match(text, new RegExp(`\\nwhy: byte ${m[1]}: (written|stored) by t\\d+ #\\d+ `), 'why, in words');
    assert.notEqual(m[2], m[3]);
    assert.match(text, new RegExp(`\\[${m[3]}\\]`), 'the differing byte is marked in the dump');
  }
  assert.ok(shown > 0, 'at least one data report names the byte');
});

test('titles of every class', () => {
  assert.equal(reportTitle('WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range'), 'WARNING in ifs_free (ifs_free:uptodate-mismatch)');
  assert.equal(reportTitle('DATA pread:mismatch @ ksys_pread64'), 'data corruption in ksys_pread64 (pread:mismatch)');
  assert.equal(reportTitle('DATA lost-write write <- skipped @ iomap_writeback_range'), 'lost write in iomap_writeback_range (write <- skipped)');
  assert.equal(reportTitle('DATA stale dio <- cached @ iomap_dio_complete'), 'stale data in iomap_dio_complete (dio <- cached)');
  assert.equal(reportTitle('DATA mismatch write <- zeroes @ ksys_pread64'), 'data corruption in ksys_pread64 (write <- zeroes)');
  assert.equal(reportTitle('LIVELOCK step-budget'), 'livelock: step-budget');
});

test('a report says what a real kernel did: the verdict, and the kernel\'s log of the first run that showed it', () => {
  const k = byName('set-uptodate-during-read');
  const report = (kernel?: KernelVerdict): string => exportRepro(kernel ? { ...k.repro, kernel } : k.repro, 'report').files[0]!.text;
  const section = (text: string, title: RegExp): string => {
    const at = text.search(title);
    assert.ok(at >= 0, String(title));
    return text.slice(at, text.indexOf('\n\n', text.indexOf('\n-', at)));
  };
  assert.match(section(report(), /\nKernel\n/), /Not run on a real kernel yet: `foliofuzz kernel confirm repro\.json`/);
  assert.doesNotMatch(report(), /\nKernel log/);
  const seen: KernelVerdict = {
    verdict: 'reproduces', text: 'reproduces 2/100 on Linux 6.18.44 (xfs, 4096-byte blocks): ...', release: '6.18.44',
    fs: 'xfs, 4096-byte blocks', runs: 100, hits: 2, signature: 'BUG kernel-bug:mm/filemap.c @ BUG', detail: 'kernel BUG at mm/filemap.c:1520!',
    log: ['kernel BUG at mm/filemap.c:1520!', 'Call Trace:', ' folio_end_read+0x1/0x2'], at: '2026-12-07T19:50:00.000Z',
  };
  const text = report(seen);
  assert.match(text, /\nSeen on Linux 6\.18\.44 \(xfs, 4096-byte blocks\): the reproducer below showed it in 2 of 100 runs\n\(foliofuzz kernel confirm, 2026-12-07\), as BUG kernel-bug:mm\/filemap\.c @ BUG:\n {2}kernel BUG at mm\/filemap\.c:1520!\n/);
  assert.match(text, /It needs this bug switch on/, 'the simulator\'s side is still there');
  assert.match(text, /\nKernel log \(Linux 6\.18\.44, the first run that showed it\)\n-+\n {2}kernel BUG at mm\/filemap\.c:1520!\n {2}Call Trace:\n {3}folio_end_read\+0x1\/0x2\n/);
  const notSeen: KernelVerdict = { ...seen, verdict: 'not-reproduced', hits: 0, signature: null, detail: null, log: [], text: 'not reproduced in 100 runs on Linux 6.18.44 (xfs, 4096-byte blocks)' };
  assert.match(report(notSeen), /\nNot seen on Linux 6\.18\.44 \(xfs, 4096-byte blocks\) in 100 runs of the reproducer below \(2026-12-07\)/);
  assert.doesNotMatch(report(notSeen), /\nKernel log/);
  assert.match(text, new RegExp(`\\nIn the simulator: Linux mainline as foliofuzz models it \\(${SIM_VERSION}\\)\\.\\n`), 'the sim that judged it now');
  const older = exportRepro({ ...k.repro, simVersion: 'foliofuzz-sim/8' }, 'report').files[0]!.text;
  assert.match(older, new RegExp(`\\nIn the simulator: Linux mainline as foliofuzz models it \\(${SIM_VERSION}; found by foliofuzz-sim/8\\)\\.\\n`), 'and the one that found it, when older');
  assert.doesNotMatch(text, /WARN_ON_ONCE/, 'a BUG is not a warning printed once');
  const warnedOnce: KernelVerdict = { ...seen, runs: 1000, hits: 1, signature: 'WARN kernel-warning:fs/iomap/buffered-io.c @ iomap_zero_iter', detail: 'WARNING: CPU: 1 PID: 5532 at fs/iomap/buffered-io.c:1464 iomap_zero_iter+0x132/0x1d0' };
  assert.match(report(warnedOnce), /showed it in 1 of 1,000 runs\n.*\n {2}WARNING: CPU: 1 .*\nIf that WARNING is a WARN_ON_ONCE, it stays silent after its first hit until a reboot: the\nruns after the first hit could not show it, so 1 of 1,000 is no measure of how often it happens\.\n/);
  assert.doesNotMatch(report({ ...warnedOnce, hits: 3 }), /WARN_ON_ONCE/, 'a warning seen three times is not printed once');
  const cannot: KernelVerdict = { ...notSeen, verdict: 'cannot-run', runs: 0, release: null, fs: null, detail: 'needs fault injection (fail_bio)', text: 'cannot run here: needs fault injection (fail_bio)' };
  assert.match(report(cannot), /\nNot run on a real kernel: needs fault injection \(fail_bio\)\n/);
});

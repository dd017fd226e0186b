// Provisioning leaves nothing behind on any way out: the executor killed
// mid-run, an error thrown while a mount is up, a step failing part-way (the
// fuse daemon failing to mount included; not built, it is refused first),
// SIGTERM and SIGINT of the process, an uncaught exception, and (swept up
// the next time) the process killed outright. Also: an existing directory is
// checked and refused with what to mkfs, and provisioning without root says
// what to do instead.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Op } from '../../worker/prog/types.js';
import { ExecutorRefusedError, runOnKernel } from '../../worker/twin/executor.js';
import { type TwinMount, ProvisionError, sweepStale, twinMount, useDirectory } from '../../worker/twin/provision.js';
import { assertNothingLeft, leftovers, program, provisionIn, removeParent, rets, testParent } from './helpers.js';

const CHILD = fileURLToPath(new URL('./provision-child.js', import.meta.url));
const EXT4 = { fs: 'ext4', inode: 'extent', blockSize: 4096 } as const;
const FUSE = { fs: 'fuse', inode: 'extent', blockSize: 4096 } as const;

let parent: string;
before(() => {
  parent = testParent();
});
after(() => removeParent(parent));

interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start the child; `onReady` runs once it says "ready". */
function child(mode: string, opts: { env?: NodeJS.ProcessEnv; uid?: number; onReady?: (c: ChildProcess) => void } = {}): Promise<ChildEnd> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, parent, mode], { env: opts.env ?? process.env, uid: opts.uid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (stdout.includes('ready\n') && opts.onReady) {
        const ready = opts.onReady;
        opts.onReady = undefined;
        ready(c);
      }
    });
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Many small writes, each made durable: long enough to be killed in the middle of. */
const LONG: Op[] = Array.from({ length: 4000 }, (_, i) => [
  { op: 'pwrite', fd: 0, off: (i % 64) * 4096, len: 4096, fill: i & 255 } as Op,
  { op: 'fsync', fd: 0 } as Op,
]).flat();

test('the executor killed mid-run: the run ends in error, the mount still works, and release leaves nothing', async () => {
  const mount = provisionIn(parent, EXT4);
  try {
    const prog = program(EXT4, 1, [{ file: 0, direct: false }], [LONG]);
    const r = await runOnKernel(prog, {
      dir: mount.dir, mount: mount.owned, runs: 3,
      onSpawn: (c) => setTimeout(() => c.kill('SIGKILL'), 300),
    });
    assert.equal(r.status, 'killed');
    assert.equal(r.traces.length, 1);
    assert.deepEqual(r.traces[0]!.end, { outcome: 'error', error: 'the executor was killed by SIGKILL' });
    // Mount once, run many: the killed run's files are cleaned and the next program runs.
    mount.clean();
    const short = program(EXT4, 1, [{ file: 0, direct: false }], [[{ op: 'pwrite', fd: 0, off: 0, len: 10, fill: 1 }, { op: 'remount' }]]);
    const again = await runOnKernel(short, { dir: mount.dir, mount: mount.owned });
    assert.deepEqual(rets(again.traces[0]!).map((e) => e.ret), [10, 0]);
  } finally {
    mount.release();
  }
  assertNothingLeft(parent);
});

test('an error thrown while a mount is up still takes it down', async () => {
  let mount: TwinMount | undefined;
  await assert.rejects(async () => {
    mount = provisionIn(parent, { fs: 'xfs', inode: 'extent', blockSize: 1024 });
    try {
      assert.ok(leftovers(parent).length >= 2, 'mounted and on a loop device');
      throw new Error('the test failed');
    } finally {
      mount.release();
    }
  }, /the test failed/);
  assertNothingLeft(parent);
  assert.equal(existsSync(mount!.dir), false, 'its directory is gone too');
  mount!.release(); // idempotent
});

test('a step failing part-way undoes the steps before it', async () => {
  const bin = join(parent, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'mkfs.ext4'), '#!/bin/sh\necho "mkfs.ext4: no space on the moon" >&2\nexit 1\n');
  chmodSync(join(bin, 'mkfs.ext4'), 0o755);
  const end = await child('fail', { env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` } });
  assert.match(end.stdout, /^error: mkfs\.ext4 .* failed \(1\): mkfs\.ext4: no space on the moon/);
  assertNothingLeft(parent);
});

/** Run body with the executor (and so the fuse daemon beside it) looked for in dir. */
function withExecutorIn(dir: string, body: () => void): void {
  const saved = process.env['FOLIOFUZZ_EXEC'];
  process.env['FOLIOFUZZ_EXEC'] = join(dir, 'foliofuzz-exec');
  try {
    body();
  } finally {
    if (saved === undefined) delete process.env['FOLIOFUZZ_EXEC'];
    else process.env['FOLIOFUZZ_EXEC'] = saved;
  }
}

test('without the fuse daemon built, a fuse mount says how to build it, before making anything', () => {
  withExecutorIn(join(parent, 'unbuilt'), () => assert.throws(() => provisionIn(parent, FUSE), (e: Error) => e instanceof ProvisionError &&
    e.message.startsWith(`the kernel twin's fuse daemon is missing (${join(parent, 'unbuilt', 'ffz-fused')})`) &&
    e.message.includes('apt-get install libfuse3-dev pkg-config')));
  assert.deepEqual(readdirSync(parent).filter((n) => n.startsWith('ffz-')), [], 'no base directory either');
});

test('a fuse daemon that fails to mount: the ext4 below it is taken down too', () => {
  const bin = join(parent, 'failing');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ffz-fused'), '#!/bin/sh\necho "ffz-fused: no fuse here" >&2\nexit 1\n');
  chmodSync(join(bin, 'ffz-fused'), 0o755);
  withExecutorIn(bin, () => assert.throws(() => provisionIn(parent, FUSE), /ffz-fused -o subtype=ffz-fused .* failed \(1\): ffz-fused: no fuse here/));
  assertNothingLeft(parent);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} of the process takes its mounts down (a fuse daemon's included), then it dies of the signal`, async () => {
    const end = await child('hold', { onReady: (c) => c.kill(signal) });
    assert.equal(end.signal, signal, end.stderr);
    assertNothingLeft(parent);
  });
}

test('an uncaught exception takes the mounts down on the way out', async () => {
  const end = await child('throw');
  assert.equal(end.code, 1);
  assert.match(end.stderr, /thrown after provisioning/);
  assertNothingLeft(parent);
});

test('what a process killed outright left is swept the next time', async () => {
  const end = await child('hold', { onReady: (c) => c.kill('SIGKILL') });
  assert.equal(end.signal, 'SIGKILL');
  assert.ok(leftovers(parent).length >= 3, 'the killed process left its mounts');
  const swept = sweepStale(parent);
  assert.equal(swept.length, 2, 'the ext4 mount and the fuse mount');
  assert.ok(swept.every((dir) => !existsSync(dir)));
  assertNothingLeft(parent);
});

test('an existing directory is checked: a mismatch says what to mkfs, a match runs but cannot remount', async () => {
  const mount = provisionIn(parent, EXT4);
  try {
    assert.throws(() => useDirectory(mount.dir, { fs: 'xfs', inode: 'extent', blockSize: 4096 }), (e: Error) => e instanceof ProvisionError &&
      e.message === `${mount.dir} is ext4 with 4096-byte blocks, but the program needs xfs, 4096-byte blocks: mkfs.xfs -b size=4096 DEVICE, then mount it there`);
    assert.throws(() => useDirectory(mount.dir, { fs: 'ext4', inode: 'extent', blockSize: 1024 }), /needs ext4, 1024-byte blocks: mkfs\.ext4 -b 1024 -E/);
    assert.throws(() => useDirectory(mount.dir, { fs: 'ext4', inode: 'indirect', blockSize: 4096 }),
      /needs ext4 with indirect-block inodes, 4096-byte blocks: mkfs\.ext4 -b 4096 -O \^extent,\^64bit/);
    const given = twinMount(EXT4, { dir: mount.dir });
    assert.equal(given.owned, undefined);
    const prog = program(EXT4, 1, [{ file: 0, direct: false }], [[{ op: 'pwrite', fd: 0, off: 0, len: 10, fill: 1 }]]);
    const r = await runOnKernel(prog, { dir: given.dir });
    assert.deepEqual(rets(r.traces[0]!).map((e) => e.ret), [10]);
    assert.deepEqual(r.traces[0]!.events.filter((e) => e.e === 'final').map((e) => e.e === 'final' && e.via), ['cache', 'drop_caches']);
    const remount = program(EXT4, 1, [], [[{ op: 'remount' }]]);
    await assert.rejects(runOnKernel(remount, { dir: given.dir }), ExecutorRefusedError);
    given.release();
    assert.ok(leftovers(parent).length >= 2, 'releasing a directory we were given unmounts nothing');
  } finally {
    mount.release();
  }
});

test('without root, provisioning says to run as root or which directory to give', async () => {
  const end = await child('fail', { uid: 65534 });
  assert.match(end.stdout, /^error: a loop-mounted ext4, 4096-byte blocks needs root \(losetup, mount\); run as root, or give an existing directory: mkfs\.ext4 -b 4096/);
});

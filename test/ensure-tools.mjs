#!/usr/bin/env node
// Run by `npm test` (pretest): make sure the external tools the test suite
// drives are on PATH. Missing ones are installed with apt-get when we are root;
// otherwise (or when the install fails) exit 1 naming the missing package(s).
// The kernel twin's tests (test/twin) also need root itself: they make loop
// devices and mount filesystems. Quiet when everything is present.
//
// The browser tests drive Debian's chromium through puppeteer-core, which
// never downloads a browser of its own: the package is the only browser.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * command on PATH -> Debian package that provides it; `file`: a file that
 * must exist instead (headers); `sbin`: the sbin directories count too (the
 * code that runs it searches them).
 */
const TOOLS = [
  { command: 'xfs_io', pkg: 'xfsprogs' },
  { command: 'nats-server', pkg: 'nats-server' },
  // The kernel twin: building its executor, and the filesystems it runs on.
  { command: 'cc', pkg: 'gcc' },
  { command: 'stdio.h', file: '/usr/include/stdio.h', pkg: 'libc6-dev' },
  { command: 'linux/aio_abi.h', file: '/usr/include/linux/aio_abi.h', pkg: 'linux-libc-dev' },
  { command: 'losetup', pkg: 'mount', sbin: true },
  { command: 'mkfs.ext4', pkg: 'e2fsprogs', sbin: true },
  { command: 'mkfs.xfs', pkg: 'xfsprogs', sbin: true },
  // The fuse daemon (native/fuse): built against libfuse3 (found by pkg-config);
  // fuse3's fusermount3 is what libfuse3 falls back on when it cannot mount(2) itself.
  { command: 'pkg-config', pkg: 'pkg-config' },
  { command: 'fuse3/fuse.h', file: '/usr/include/fuse3/fuse.h', pkg: 'libfuse3-dev' },
  { command: 'fusermount3', pkg: 'fuse3' },
  // test/browser/: the dashboard in a real browser.
  { command: 'chromium', pkg: 'chromium' },
];

// xfs_io and friends live in /usr/sbin, which a non-login PATH may lack.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function inDirs(command, dirs) {
  for (const dir of dirs) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

function onPath(command) {
  return inDirs(command, (process.env.PATH ?? '').split(delimiter).filter(Boolean));
}

function present(t) {
  if (t.file) return existsSync(t.file);
  return onPath(t.command) || (t.sbin === true && inDirs(t.command, EXTRA_DIRS));
}

function missingTools() {
  return TOOLS.filter((t) => !present(t));
}

function fail(missing, why, hint = true) {
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  const cmds = missing.map((t) => t.command).join(', ');
  process.stderr.write(
    `ensure-tools: missing ${cmds} (package${pkgs.length > 1 ? 's' : ''}: ${pkgs.join(' ')}). ${why}\n` +
      (hint ? `Install with: apt-get install -y ${pkgs.join(' ')}\n` : ''),
  );
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
  });
  return r;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let missing = missingTools();
if (missing.length > 0) {
  // A tool may be installed in an sbin directory that PATH lacks: say so rather
  // than reinstalling it.
  const inSbin = missing.filter((t) => !t.file && inDirs(t.command, EXTRA_DIRS));
  if (inSbin.length > 0) {
    fail(inSbin, `They are installed but not on PATH; add ${EXTRA_DIRS.join(delimiter)} to PATH.`, false);
  }

  if (!isRoot) fail(missing, 'Not running as root, so not installing them.');

  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  process.stderr.write(`ensure-tools: installing ${pkgs.join(' ')} with apt-get\n`);
  const update = run('apt-get', ['update']);
  if (update.error || update.status !== 0) {
    fail(missing, `apt-get update failed: ${update.error?.message ?? update.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  const install = run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs]);
  if (install.error || install.status !== 0) {
    fail(missing, `apt-get install failed: ${install.error?.message ?? install.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  missing = missingTools();
  if (missing.length > 0) fail(missing, 'Still not on PATH after apt-get install.');
}

// The kernel twin's tests make loop devices and mount ext4, xfs and fuse.
const twinNeeds = [
  [!isRoot, 'root (run npm test as root)'],
  [!existsSync('/dev/loop-control'), 'loop devices (/dev/loop-control: modprobe loop)'],
  [!existsSync('/dev/fuse'), 'FUSE (/dev/fuse: modprobe fuse)'],
].filter(([lacking]) => lacking).map(([, what]) => what);
if (twinNeeds.length > 0) {
  process.stderr.write(`ensure-tools: the kernel twin tests (test/twin) need ${twinNeeds.join(', ')}; they make loop devices and mount filesystems.\n`);
  process.exit(1);
}

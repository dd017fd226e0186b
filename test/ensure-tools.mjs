#!/usr/bin/env node
// Run by `npm test` (pretest): make sure the external tools the test suite
// drives are on PATH. Missing ones are installed with apt-get when we are root;
// otherwise (or when the install fails) exit 1 naming the missing package(s).
// Quiet when everything is present.
//
// The browser tests drive Debian's chromium through puppeteer-core, which
// never downloads a browser of its own: the package is the only browser.

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** command on PATH -> Debian package that provides it */
const TOOLS = [
  { command: 'xfs_io', pkg: 'xfsprogs' },
  { command: 'nats-server', pkg: 'nats-server' },
  // The C exports are compiled and run against the sim's results.
  { command: 'gcc', pkg: 'gcc' },
  // test/browser/: the dashboard in a real browser.
  { command: 'chromium', pkg: 'chromium' },
];

// xfs_io and friends live in /usr/sbin, which a non-login PATH may lack.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function onPath(command) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
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

function missingTools() {
  return TOOLS.filter((t) => !onPath(t.command));
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

let missing = missingTools();
if (missing.length > 0) {
  // A tool may be installed in an sbin directory that PATH lacks: say so rather
  // than reinstalling it.
  const inSbin = missing.filter((t) =>
    EXTRA_DIRS.some((d) => {
      try {
        accessSync(join(d, t.command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
  if (inSbin.length > 0) {
    fail(inSbin, `They are installed but not on PATH; add ${EXTRA_DIRS.join(delimiter)} to PATH.`, false);
  }

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
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

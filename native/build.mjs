#!/usr/bin/env node
// Build the native executor (the kernel twin's foliofuzz-exec) into
// dist/native/. Run by `npm ci` (the prepare script) and `npm test`.
//
// The simulator needs none of this, so a machine without a C compiler or the
// C library headers still installs: the build says which Debian packages it
// needs and exits 0. With --required (the test suite) it exits 1 instead.
// Nothing is rebuilt when the binary is newer than every source.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const out = join(root, 'dist', 'native', 'foliofuzz-exec');
const required = process.argv.includes('--required');
const sources = readdirSync(here).filter((f) => f.endsWith('.c') || f.endsWith('.h')).map((f) => join(here, f));
const FLAGS = ['-O2', '-pthread', '-std=gnu11', '-Wall', '-Wextra', '-Werror=implicit-function-declaration'];
const PACKAGES = 'gcc libc6-dev';

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function give_up(why) {
  process.stderr.write(
    `native/build.mjs: the kernel twin's executor was not built: ${why}\n` +
      `  It needs a C compiler and the C library and kernel headers: apt-get install -y ${PACKAGES}\n` +
      `  then: node native/build.mjs   (the simulator works without it)\n`,
  );
  process.exit(required ? 1 : 0);
}

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  return candidates.find((cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0);
}

const newest = Math.max(...sources.map(mtime), mtime(fileURLToPath(import.meta.url)));
if (mtime(out) > newest) process.exit(0);

const cc = findCompiler();
if (!cc) give_up('no C compiler (cc, gcc or clang) on PATH');
mkdirSync(dirname(out), { recursive: true });
const r = spawnSync(cc, [...FLAGS, '-o', out, ...sources.filter((f) => f.endsWith('.c'))], { encoding: 'utf8' });
if (r.status !== 0) {
  const text = `${r.stderr ?? ''}${r.error?.message ?? ''}`;
  const missingHeader = /fatal error: [^ ]+\.h: No such file/.exec(text);
  give_up(missingHeader ? `missing header (${missingHeader[0]})` : `${cc} failed:\n${text.trim().split('\n').slice(0, 20).join('\n')}`);
}
if (r.stderr.trim()) process.stderr.write(r.stderr);

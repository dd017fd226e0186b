#!/usr/bin/env node
// Build the kernel twin's native programs into dist/native/: the executor
// (foliofuzz-exec, native/*.c) and the FUSE daemon it runs fuse programs on
// (ffz-fused, native/fuse/*.c, on libfuse3). Run by `npm ci` (the prepare
// script) and `npm test`.
//
// The simulator needs none of this, so a machine without a C compiler, the C
// library headers or libfuse3 still installs: the build says which Debian
// packages it needs, skips what it cannot build and exits 0. With --required
// (the test suite) it exits 1 instead. Nothing is rebuilt when its binary is
// newer than every one of its sources.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const outDir = join(root, 'dist', 'native');
const required = process.argv.includes('--required');
const FLAGS = ['-O2', '-pthread', '-std=gnu11', '-Wall', '-Wextra', '-Werror=implicit-function-declaration'];

/**
 * name: the binary; dir: its sources (*.c, *.h); packages: what it needs;
 * pkgConfig: the library it links, found by pkg-config.
 */
const TARGETS = [
  { name: 'foliofuzz-exec', what: "the kernel twin's executor", dir: here, packages: 'gcc libc6-dev' },
  { name: 'ffz-fused', what: "the kernel twin's FUSE daemon", dir: join(here, 'fuse'), packages: 'gcc libc6-dev libfuse3-dev pkg-config', pkgConfig: 'fuse3' },
];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

let failed = false;

function skip(target, why) {
  process.stderr.write(
    `native/build.mjs: ${target.what} (${target.name}) was not built: ${why}\n` +
      `  It needs: apt-get install -y ${target.packages}\n` +
      `  then: node native/build.mjs   (the simulator works without it)\n`,
  );
  failed = true;
}

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  return candidates.find((cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** pkg-config's compiler and linker flags for a library, or why there are none. */
function pkgConfigFlags(lib) {
  const r = spawnSync('pkg-config', ['--cflags', '--libs', lib], { encoding: 'utf8' });
  if (r.error) return { why: 'pkg-config is not installed' };
  if (r.status !== 0) return { why: `pkg-config does not know ${lib} (${(r.stderr ?? '').trim().split('\n')[0]})` };
  return { flags: r.stdout.trim().split(/\s+/).filter(Boolean) };
}

function sourcesOf(target) {
  return readdirSync(target.dir).filter((f) => f.endsWith('.c') || f.endsWith('.h')).map((f) => join(target.dir, f));
}

function upToDate(target) {
  const newest = Math.max(...sourcesOf(target).map(mtime), mtime(fileURLToPath(import.meta.url)));
  return mtime(join(outDir, target.name)) > newest;
}

function build(cc, target) {
  const out = join(outDir, target.name);
  const sources = sourcesOf(target);
  let libFlags = [];
  if (target.pkgConfig) {
    const lib = pkgConfigFlags(target.pkgConfig);
    if (!lib.flags) return skip(target, lib.why);
    libFlags = lib.flags;
  }
  mkdirSync(outDir, { recursive: true });
  const cfiles = sources.filter((f) => f.endsWith('.c'));
  const r = spawnSync(cc, [...FLAGS, '-o', out, ...cfiles, ...libFlags], { encoding: 'utf8' });
  if (r.status !== 0) {
    const text = `${r.stderr ?? ''}${r.error?.message ?? ''}`;
    const missingHeader = /fatal error: [^ ]+\.h: No such file/.exec(text);
    return skip(target, missingHeader ? `missing header (${missingHeader[0]})` : `${cc} failed:\n${text.trim().split('\n').slice(0, 20).join('\n')}`);
  }
  if (r.stderr.trim()) process.stderr.write(r.stderr);
}

const stale = TARGETS.filter((target) => !upToDate(target));
const cc = stale.length > 0 ? findCompiler() : undefined;
for (const target of stale) {
  if (cc) build(cc, target);
  else skip(target, 'no C compiler (cc, gcc or clang) on PATH');
}
process.exit(failed && required ? 1 : 0);

// A filesystem for the kernel twin to run a program on, as the program's
// config names it: ext4 (extent or indirect inodes) or xfs on a loop device
// over a sparse image, with the config's block size; fuse as our own
// passthrough daemon (native/fuse, ffz-fused) over such an ext4 (see fuse
// below). Mount once, run many programs (the executor
// removes its files after each run; clean() removes what a killed one left),
// release once.
//
// Everything lives under one directory, <parent>/ffz-<pid>-XXXXXX (short:
// the kernel's stale-page-cache warning prints at most 128 bytes of path):
// img (the image), mnt (where programs run), and for fuse back (the ext4 the
// daemon serves). Each step registers its undo (cleanup.ts) as soon as it is
// done, so a failure part-way, an exception in the caller, SIGINT/SIGTERM or
// exit all take down exactly what was set up; sweepStale removes what a
// process killed outright left.
//
// Without root, or to use a filesystem set up by hand, useDirectory checks an
// existing directory instead (statfs through the executor) and refuses a
// mismatch, saying what to mkfs.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { SimConfig } from '../prog/types.js';
import type { ExecutorHeader } from './assemble.js';
import { forgetUndo, registerUndo } from './cleanup.js';
import { type OwnedMountSpec, executorPath, findExecutor, probeDirectory } from './executor.js';
import { detachLoop, loopsUnder, mountsUnder, unmount } from './mounts.js';
import { runTool } from './tools.js';

/** The part of a program's config that names a filesystem. */
export type FsSpec = Pick<SimConfig, 'fs' | 'inode' | 'blockSize'>;

export interface TwinMount {
  /** Where the executor runs programs. */
  dir: string;
  spec: FsSpec;
  /** What the executor needs to remount dir; absent for a directory we were given. */
  owned?: OwnedMountSpec;
  /** Remove the files runs left (f0, f1, ...); nothing else is touched. */
  clean(): void;
  /** Unmount, detach, delete; idempotent. Throws if something could not be undone (after trying everything). */
  release(): void;
  /** Leave it all in place (not undone at exit either); the steps that would undo it, in order. Absent for a directory we were given. */
  keep?(): string[];
}

export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

const BASE_PREFIX = 'ffz-';
/** mkfs.xfs refuses filesystems under 300 MB; ext4 is content with little. */
export const IMAGE_BYTES = { ext4: 64 << 20, xfs: 320 << 20 } as const;
/** The fuse daemon: built by native/build.mjs beside the executor, which finds it there for a remount. */
export const FUSE_DAEMON = 'ffz-fused';

function fuseDaemonPath(): string {
  return join(dirname(executorPath()), FUSE_DAEMON);
}

export function describeSpec(spec: FsSpec): string {
  const inode = spec.fs === 'ext4' && spec.inode === 'indirect' ? ' with indirect-block inodes' : '';
  const fs = spec.fs === 'fuse' ? `fuse (${FUSE_DAEMON} over ext4)` : spec.fs;
  return `${fs}${inode}, ${spec.blockSize}-byte blocks`;
}

/** The filesystem on the loop device: spec's own, or for fuse the ext4 (extent inodes, spec's block size) the daemon serves. */
export function deviceFs(spec: FsSpec): FsSpec {
  return spec.fs === 'fuse' ? { ...spec, fs: 'ext4', inode: 'extent' } : spec;
}

/** The mkfs command line that makes a filesystem for spec on DEVICE. */
export function mkfsCommand(spec: FsSpec, device = 'DEVICE'): string[] {
  if (spec.fs === 'xfs') return ['mkfs.xfs', '-q', '-f', '-b', `size=${spec.blockSize}`, device];
  // ext4 without extents cannot be 64bit; the inode tables are written now, not by a lazy-init thread mid-run.
  const features = spec.fs === 'ext4' && spec.inode === 'indirect' ? ['-O', '^extent,^64bit'] : [];
  return ['mkfs.ext4', '-q', '-F', '-b', String(spec.blockSize), ...features, '-E', 'lazy_itable_init=0,lazy_journal_init=0', device];
}

function mkfsHint(spec: FsSpec): string {
  const mkfs = mkfsCommand(spec).filter((a) => a !== '-q' && a !== '-f' && a !== '-F').join(' ');
  return spec.fs === 'fuse'
    ? `${mkfs}, mount it, and serve a directory on it at DIR: ${fuseDaemonPath()} -o subtype=${FUSE_DAEMON} SOURCE DIR`
    : `${mkfs}, then mount it there`;
}

// ---------------------------------------------------------------------------
// An existing directory

/** Refuse a directory whose filesystem is not what spec names. */
export function checkDirectory(dir: string, header: ExecutorHeader, spec: FsSpec): void {
  const typeOk = spec.fs === 'fuse' ? header.fsType.startsWith('fuse') : header.fsType === spec.fs;
  const extentsOk = spec.fs !== 'ext4' || header.extents === null || header.extents === (spec.inode === 'extent');
  if (typeOk && header.blockSize === spec.blockSize && extentsOk) return;
  const inode = header.extents === false ? ' without extents' : '';
  throw new ProvisionError(
    `${dir} is ${header.fsType}${inode} with ${header.blockSize}-byte blocks, but the program needs ${describeSpec(spec)}: ${mkfsHint(spec)}`,
  );
}

/** A directory set up by hand: checked, never unmounted. */
export function useDirectory(dir: string, spec: FsSpec, executor = findExecutor()): TwinMount {
  checkDirectory(dir, probeDirectory(dir, executor), spec);
  return { dir, spec, clean: () => removeRunFiles(dir), release: () => {} };
}

function removeRunFiles(dir: string): void {
  for (const name of readdirSync(dir)) if (/^f\d+$/.test(name) || name === '.foliofuzz-probe') rmSync(join(dir, name), { force: true });
}

// ---------------------------------------------------------------------------
// A loop mount of our own

/** The undos of one mount, run newest first by release(). */
class Teardown {
  private undos: (() => void)[] = [];
  private whats: string[] = [];

  add(what: string, run: () => void): void {
    this.undos.push(registerUndo(what, run));
    this.whats.push(what);
  }

  /** Keep everything: forget the undos unrun; what they would have done, newest first (the commands for whoever removes it later). */
  keep(): string[] {
    const whats = this.whats.reverse();
    for (const w of whats) forgetUndo(w);
    this.undos = [];
    this.whats = [];
    return whats;
  }

  run(): void {
    const failures: string[] = [];
    while (this.undos.length > 0) {
      try {
        this.undos.pop()!();
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (failures.length > 0) throw new ProvisionError(`cleanup failed: ${failures.join('; ')}`);
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** A sparse image on a loop device with spec's filesystem on it; returns the device. */
function makeLoopFs(base: string, spec: FsSpec, td: Teardown): string {
  const image = join(base, 'img');
  writeFileSync(image, '');
  const fs = deviceFs(spec);
  truncateSync(image, fs.fs === 'xfs' ? IMAGE_BYTES.xfs : IMAGE_BYTES.ext4);
  const device = runTool('losetup', ['--find', '--show', image]);
  td.add(`losetup -d ${device}`, () => detachLoop(device, image));
  const [mkfs, ...args] = mkfsCommand(fs, device);
  runTool(mkfs!, args);
  return device;
}

function mountAt(source: string, target: string, type: string, td: Teardown): void {
  mkdirSync(target);
  runTool('mount', ['-t', type, source, target]);
  td.add(`umount ${target}`, () => unmount(target));
}

/**
 * fuse: ffz-fused (native/fuse/) passing through to a directory on an ext4
 * with the config's block size, answering each request as the sim's fuse
 * server does (fallocate included). It never asks for the writeback cache,
 * so the kernel runs it write-through, as the sim's fuse is; each file's
 * st_blksize, which fuse takes as the inode's block size, is the ext4's; its
 * opens keep the page cache (FOPEN_KEEP_CACHE), as the sim's do. The subtype
 * names it in /proc/mounts (fuse.ffz-fused). The command returns once the
 * mount is up, the daemon serving it in the background until it is
 * unmounted.
 */
function mountFuse(base: string, device: string, daemon: string, td: Teardown): OwnedMountSpec {
  const back = join(base, 'back');
  mountAt(device, back, 'ext4', td);
  const mnt = join(base, 'mnt');
  mkdirSync(mnt);
  const options = `subtype=${FUSE_DAEMON}`;
  // Registered first: a daemon that mounted and then failed is taken down too.
  td.add(`umount ${mnt}`, () => unmountFuse(mnt));
  runTool(daemon, ['-o', options, back, mnt]);
  return { device: back, fsType: `fuse.${FUSE_DAEMON}`, options };
}

/** The fuse daemon's path; throws, saying how to build it, when it is not built. */
function requireFuseDaemon(): string {
  const daemon = fuseDaemonPath();
  if (existsSync(daemon)) return daemon;
  throw new ProvisionError(`the kernel twin's fuse daemon is missing (${daemon}): it needs libfuse3 ` +
    '(Debian: apt-get install libfuse3-dev pkg-config), then `node native/build.mjs` builds it');
}

/** The daemons serving mnt, by their command line. */
function daemonsOf(mnt: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (basename(argv[0] ?? '') === FUSE_DAEMON && argv.includes(mnt)) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Unmount a fuse mount and make sure its daemon is gone (it still holds files on the ext4 below). */
function unmountFuse(mnt: string): void {
  const daemons = daemonsOf(mnt);
  unmount(mnt);
  const deadline = Date.now() + 2000;
  for (const pid of daemons) {
    while (alive(pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** Running: a zombie (a daemonized fuse server nobody reaps) is not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface ProvisionOptions {
  /** Where the base directory goes; default os.tmpdir(). */
  parent?: string;
}

/** Make, mount and return a filesystem for spec; needs root. */
export function provisionMount(spec: FsSpec, opts: ProvisionOptions = {}): TwinMount {
  if (!isRoot()) {
    throw new ProvisionError(`a loop-mounted ${describeSpec(spec)} needs root (losetup, mount); ` +
      `run as root, or give an existing directory: ${mkfsHint(spec)}`);
  }
  const daemon = spec.fs === 'fuse' ? requireFuseDaemon() : null;
  const parent = opts.parent ?? tmpdir();
  sweepStale(parent);
  const base = mkdtempSync(join(parent, `${BASE_PREFIX}${process.pid}-`));
  const td = new Teardown();
  td.add(`rm -r ${base}`, () => rmSync(base, { recursive: true, force: true }));
  try {
    const device = makeLoopFs(base, spec, td);
    const dir = join(base, 'mnt');
    let owned: OwnedMountSpec;
    if (daemon !== null) owned = mountFuse(base, device, daemon, td);
    else {
      mountAt(device, dir, spec.fs, td);
      owned = { device, fsType: spec.fs, options: '' };
    }
    return { dir, spec, owned, clean: () => removeRunFiles(dir), release: () => td.run(), keep: () => td.keep() };
  } catch (err) {
    try {
      td.run();
    } catch (cleanupErr) {
      throw new ProvisionError(`${err instanceof Error ? err.message : String(err)} (and then ${(cleanupErr as Error).message})`);
    }
    throw err;
  }
}

/**
 * Take down what processes that are gone left under parent: mounts, loop
 * devices and base directories named for a pid no longer running. Returns
 * the base directories removed.
 */
export function sweepStale(parent: string = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = new RegExp(`^${BASE_PREFIX}(\\d+)-`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const base = join(parent, name);
    for (const mount of mountsUnder(base)) {
      if (mount.type.startsWith('fuse')) unmountFuse(mount.target);
      else unmount(mount.target);
    }
    for (const loop of loopsUnder(base)) detachLoop(loop.device, loop.backingFile);
    rmSync(base, { recursive: true, force: true });
    removed.push(base);
  }
  return removed;
}

/**
 * The mount a kernel run uses: the directory given (checked against spec),
 * else a loop mount of our own (which needs root; without it the error says
 * which directory to give instead).
 */
export function twinMount(spec: FsSpec, opts: ProvisionOptions & { dir?: string } = {}): TwinMount {
  return opts.dir !== undefined ? useDirectory(opts.dir, spec) : provisionMount(spec, opts);
}

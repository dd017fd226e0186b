// Run the real xfs_io on a fresh file in os.tmpdir() and return the file's
// final contents.
//
// xfs_io exits 1 when any command failed (an fcollapse reaching EOF, say): that
// is fine, the sim must fail the same way. Being killed by a signal is not:
// SIGBUS means the script touched a mapped page past EOF, which is a bug in the
// script generator, so it throws.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RealRunOptions {
  /** Open the file O_DIRECT (xfs_io -d). */
  direct: boolean;
  /** Directory to create the scratch directory in; default os.tmpdir(). */
  parentDir?: string;
  /** Keep the scratch directory (the file stays at `file`). Default: removed. */
  keep?: boolean;
}

export interface RealRunResult {
  /** Final contents of the file; its length is the final size. */
  data: Buffer;
  /** xfs_io's exit status (0, or 1 when a command failed). */
  status: number;
  /** Its error messages ("fallocate: Invalid argument"); stdout is not kept. */
  stderr: string;
  /** Path of the file xfs_io worked on (gone unless keep). */
  file: string;
}

export class XfsIoSignalError extends Error {
  constructor(
    readonly signal: string,
    readonly stderr: string,
    readonly scriptFile: string,
  ) {
    super(
      `xfs_io was killed by ${signal} (a script that touches a mapping past EOF is a generator bug); ` +
        `script saved to ${scriptFile}; stderr tail: ${stderr.slice(-500)}`,
    );
    this.name = 'XfsIoSignalError';
  }
}

let xfsIoPath: string | undefined;

/** Absolute path of xfs_io: PATH first, then the sbin directories. */
export function findXfsIo(): string {
  if (xfsIoPath) return xfsIoPath;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const p = join(d, 'xfs_io');
    try {
      accessSync(p, constants.X_OK);
      xfsIoPath = p;
      return p;
    } catch {
      // next
    }
  }
  throw new Error('xfs_io not found on PATH (install package xfsprogs; npm test runs test/ensure-tools.mjs)');
}

function xfsIoArgs(file: string, direct: boolean): string[] {
  return direct ? ['-f', '-d', file] : ['-f', file];
}

function saveScript(script: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'foliofuzz-sigscript-'));
  const p = join(dir, 'script.xfs-io');
  writeFileSync(p, script);
  return p;
}

function finish(
  dir: string,
  file: string,
  keep: boolean,
  script: string,
  status: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): RealRunResult {
  try {
    if (signal !== null) throw new XfsIoSignalError(signal, stderr, saveScript(script));
    if (status === null) throw new Error('xfs_io ended with neither a status nor a signal');
    if (status !== 0 && status !== 1) {
      throw new Error(`xfs_io exited with status ${status}: ${stderr.slice(-500)}`);
    }
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (e) {
      throw new Error(`xfs_io left no file at ${file}: ${(e as Error).message}; stderr: ${stderr.slice(-500)}`);
    }
    return { data, status, stderr, file };
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Run `xfs_io -f [-d] FILE < script` on a fresh file; resolves with the file's final contents. */
export function runRealXfsIo(script: string, opts: RealRunOptions): Promise<RealRunResult> {
  const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'foliofuzz-real-'));
  const file = join(dir, 'file0');
  return new Promise<RealRunResult>((resolve, reject) => {
    const child = spawn(findXfsIo(), xfsIoArgs(file, opts.direct), { stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // EPIPE if xfs_io died early: reported through the exit status/signal.
    });
    child.on('error', (e) => {
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (status, signal) => {
      try {
        resolve(
          finish(dir, file, opts.keep ?? false, script, status, signal, Buffer.concat(err).toString()),
        );
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(script);
  });
}

/** Synchronous variant of runRealXfsIo. */
export function runRealXfsIoSync(script: string, opts: RealRunOptions): RealRunResult {
  const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'foliofuzz-real-'));
  const file = join(dir, 'file0');
  const r = spawnSync(findXfsIo(), xfsIoArgs(file, opts.direct), {
    input: script,
    stdio: ['pipe', 'ignore', 'pipe'],
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  if (r.error) {
    rmSync(dir, { recursive: true, force: true });
    throw r.error;
  }
  return finish(dir, file, opts.keep ?? false, script, r.status, r.signal, r.stderr);
}

/** A limiter: `limit(fn)` runs fn once fewer than `n` limited tasks are in flight. */
export function createLimiter(n: number): <R>(fn: () => Promise<R>) => Promise<R> {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    active--;
    waiting.shift()?.();
  };
  return <R>(fn: () => Promise<R>): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const start = (): void => {
        active++;
        fn().then(resolve, reject).finally(release);
      };
      if (active < n) start();
      else waiting.push(start);
    });
}

// Running the native executor (native/, built into dist/native/ by
// native/build.mjs): a program in, one Trace per run out.
//
// Its exit status says how it went (native/exec.h): 0 every run done, 1 a run
// ended in error (its trace says why), 2 bad input, 3 the program needs what
// the executor cannot do (fault injection; a remount without its own mount),
// 4 the directory cannot be used. Killed (by a timeout here, or by anyone),
// the runs it finished are kept and the one under way ends as an error or a
// timeout.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Program } from '../prog/types.js';
import type { Trace, TraceEnd } from '../trace/types.js';
import { type ExecutorHeader, parseExecutorHeader, parseExecutorOutput, tracesFromOutput } from './assemble.js';
import { programToExecInput } from './exec-input.js';

const EXIT_RUN_FAILED = 1;
const EXIT_BAD_INPUT = 2;
const EXIT_UNSUPPORTED = 3;

/** The executor is not built. */
export class ExecutorMissingError extends Error {
  override name = 'ExecutorMissingError';
}

/** The program needs what the executor cannot do: fault injection, or its own mount for a remount. */
export class ExecutorRefusedError extends Error {
  override name = 'ExecutorRefusedError';
}

/** The executor could not run at all: bad input, an unusable directory, or it died before saying anything. */
export class ExecutorError extends Error {
  override name = 'ExecutorError';
}

/** What the executor needs to unmount and mount its directory itself (remount). */
export interface OwnedMountSpec {
  /** A block device; for fuse.DAEMON the daemon's backing directory. */
  device: string;
  /** mount(2)'s type, or fuse.DAEMON to run `DAEMON -o OPTIONS DEVICE DIR`. */
  fsType: string;
  options: string;
}

export interface Pause {
  thread: number;
  op: number;
  us: number;
}

export interface KernelRunOptions {
  /** The directory the program's files are created in (f0, f1, ...). */
  dir: string;
  /** Default 1. */
  runs?: number;
  /** Given when the caller owns the mount: the executor may then remount it. */
  mount?: OwnedMountSpec;
  /** Race amplification: a random sleep of up to jitterUs before each op, drawn from seed. */
  seed?: number;
  jitterUs?: number;
  /** A sleep before op `op` of thread `thread`. */
  pauses?: Pause[];
  /** Tests: kernel log records are read from this file instead of /dev/kmsg. */
  kmsg?: string;
  /** Wall-time limit for all runs; default 60 s. */
  timeoutMs?: number;
  /** The executor binary; default findExecutor(). */
  executor?: string;
  /** Sees the child once it is spawned. */
  onSpawn?: (child: ChildProcess) => void;
}

export interface KernelRunResult {
  header: ExecutorHeader | null;
  /** One per run started, in order. */
  traces: Trace[];
  /** done: every run; failed: a run ended in error; killed: by a signal not ours; timeout: the limit. */
  status: 'done' | 'failed' | 'killed' | 'timeout';
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Where the build puts the executor, or $FOLIOFUZZ_EXEC. */
export function executorPath(): string {
  return process.env['FOLIOFUZZ_EXEC'] ?? fileURLToPath(new URL('../../native/foliofuzz-exec', import.meta.url));
}

/** The executor's path; throws ExecutorMissingError saying how to build it. */
export function findExecutor(): string {
  const path = executorPath();
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new ExecutorMissingError(
      `the kernel twin's native executor is missing (${path}): it needs a C compiler and the C headers ` +
        '(Debian: apt-get install gcc libc6-dev), then `node native/build.mjs` builds it (npm ci does this)',
    );
  }
}

function executorArgs(opts: KernelRunOptions): string[] {
  const args = ['--dir', opts.dir, '--runs', String(opts.runs ?? 1)];
  if (opts.mount) args.push('--device', opts.mount.device, '--fstype', opts.mount.fsType, '--mount-opts', opts.mount.options);
  if (opts.seed !== undefined) args.push('--seed', String(opts.seed));
  if (opts.jitterUs) args.push('--jitter-us', String(opts.jitterUs));
  for (const p of opts.pauses ?? []) args.push('--pause', `${p.thread}:${p.op}:${p.us}`);
  if (opts.kmsg) args.push('--kmsg', opts.kmsg);
  return args;
}

interface ChildOutcome {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

function runChild(exe: string, args: string[], input: string, opts: KernelRunOptions): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // The executor may exit before reading all of its input (a refusal): not an error here.
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ExecutorError(`${exe}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code, signal, timedOut });
    });
    opts.onSpawn?.(child);
    child.stdin.end(input);
  });
}

/** Run a validated program on the real kernel in opts.dir; one trace per run. */
export async function runOnKernel(program: Program, opts: KernelRunOptions): Promise<KernelRunResult> {
  const exe = opts.executor ?? findExecutor();
  const r = await runChild(exe, executorArgs(opts), programToExecInput(program), opts);
  const said = r.stderr.trim().replace(/^foliofuzz-exec: /, '');
  if (r.code === EXIT_UNSUPPORTED) throw new ExecutorRefusedError(said);
  if (r.code !== null && r.code !== 0 && r.code !== EXIT_RUN_FAILED) {
    throw new ExecutorError(`the executor ${r.code === EXIT_BAD_INPUT ? 'refused its input' : `exited with status ${r.code}`}: ${said}`);
  }
  const output = parseExecutorOutput(r.stdout, program, 'foliofuzz-exec output');
  const status = r.timedOut ? 'timeout' : r.signal ? 'killed' : r.code === 0 ? 'done' : 'failed';
  if (!output.header && status !== 'timeout') {
    throw new ExecutorError(`the executor ${r.signal ? `was killed by ${r.signal}` : 'wrote nothing'} before its header: ${said}`);
  }
  const cut: TraceEnd = r.timedOut ? { outcome: 'timeout' } : { outcome: 'error', error: `the executor was killed by ${r.signal}` };
  return { header: output.header, traces: tracesFromOutput(output, program, cut), status, stderr: r.stderr };
}

/**
 * Whether the executor can run the program (with the mount, when given),
 * running nothing: throws ExecutorRefusedError saying what it needs, or
 * ExecutorError if it refuses the input.
 */
export function checkRunnable(program: Program, mount?: OwnedMountSpec, executor = findExecutor()): void {
  const args = ['--check', ...(mount ? ['--device', mount.device, '--fstype', mount.fsType] : [])];
  const r = spawnSync(executor, args, { input: programToExecInput(program), encoding: 'utf8' });
  const said = (r.stderr ?? '').trim().replace(/^foliofuzz-exec: /, '');
  if (r.status === EXIT_UNSUPPORTED) throw new ExecutorRefusedError(said);
  if (r.status !== 0) throw new ExecutorError(`the executor refused its input: ${said || r.error?.message || `status ${r.status}`}`);
}

/** What the executor finds a directory to be (statfs, and for ext4 whether new files get extents). */
export function probeDirectory(dir: string, executor = findExecutor()): ExecutorHeader {
  const r = spawnSync(executor, ['--probe', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new ExecutorError(`probing ${dir}: ${(r.stderr || r.error?.message || '').trim()}`);
  return parseExecutorHeader(r.stdout, `foliofuzz-exec --probe ${dir}`);
}

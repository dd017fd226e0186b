// A scratch copy of the built tree for the mutation benchmark
// (test/bench/mutants.ts), and the three ways a mutant of it is judged: a few
// trivial programs, the unit tests, and an embedded campaign.
//
// Only dist/ is copied (a mutant rewrites one of its files, then the original
// text is put back); every other top-level entry (package.json, which makes
// the .js files ES modules, node_modules, corpus/, native/) is a symlink to the
// real tree, so the copy runs exactly as the tree does. Every judgement is one
// child process at a time, as the benchmark runs on a shared machine.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MutantTree {
  /** The scratch tree: dir/dist is a copy, the rest symlinks. */
  dir: string;
  /** Replace a file of the copy (path relative to dist/) with `text`; returns the function that puts it back. */
  mutate(file: string, text: string): () => void;
  /** Remove the scratch tree. */
  remove(): void;
}

export function makeMutantTree(root: string): MutantTree {
  const dir = mkdtempSync(join(tmpdir(), 'foliofuzz-mutants-'));
  try {
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    for (const name of readdirSync(root)) {
      if (name !== 'dist' && name !== '.git') symlinkSync(join(root, name), join(dir, name));
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    mutate(file, text) {
      const path = join(dir, 'dist', file);
      const original = readFileSync(path, 'utf8');
      writeFileSync(path, text);
      return () => writeFileSync(path, original);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Why a judgement killed the mutant, or null when it did not. */
export type Verdict = string | null;

/** The trivial programs: a write read back, and again after fsync, on every filesystem. */
const TRIVIAL_SCRIPT = 'pwrite -S 0xab 0 10000\npread 0 10000\nfsync\npread 0 10000\n';
const TRIVIAL_FS = ['ext4', 'xfs', 'fuse', 'ext4-indirect'];

/**
 * The sanity check: `foliofuzz exec` of the trivial script on each
 * filesystem. A violation, a harness error, a crash or a hang there kills the
 * mutant trivially: every test and every campaign would kill it at once.
 */
export function judgeTrivial(tree: MutantTree, timeoutSec = 30): Verdict {
  const script = join(tree.dir, 'trivial.xfs-io');
  writeFileSync(script, TRIVIAL_SCRIPT);
  for (const fs of TRIVIAL_FS) {
    const r = spawnSync(process.execPath, [join(tree.dir, 'dist', 'worker', 'cli', 'main.js'), 'exec', '--xfs-io', script, '--fs', fs], {
      cwd: tree.dir, encoding: 'utf8', timeout: timeoutSec * 1000, maxBuffer: 1 << 26,
    });
    if (r.error?.message.includes('ETIMEDOUT')) return `${fs}: hang`;
    if (r.status !== 0) return `${fs}: exit ${r.status ?? r.signal} ${whatFailed(r.stdout + r.stderr).slice(0, 100)}`;
  }
  return null;
}

/** The line that says what went wrong: the violation's signature, else the first error line, else the last. */
function whatFailed(out: string): string {
  const lines = out.trim().split('\n').map((l) => l.trim());
  const signature = /^signature: (.*)$/m.exec(out)?.[1];
  if (signature !== undefined) return signature;
  const i = lines.findIndex((l) => /error/i.test(l));
  if (i < 0) return lines[lines.length - 1] ?? '';
  // "harness error (...):" puts the error itself on the next line
  return lines[i]!.endsWith(':') ? `${lines[i]} ${lines[i + 1] ?? ''}` : lines[i]!;
}

/**
 * The unit tests (`dirs`, relative to the tree, e.g. dist/test/unit/sim) run
 * on the copy, one file at a time, with the poisoning the suite runs with.
 * Any failing test, a crash or a hang kills the mutant; the verdict names
 * the first failing test.
 */
export function judgeTests(tree: MutantTree, dirs: readonly string[], timeoutSec: number): Verdict {
  // Not under this process's test runner, if any: the child is a runner of its own.
  const env: NodeJS.ProcessEnv = { ...process.env, FOLIOFUZZ_POISON: '1' };
  delete env['NODE_TEST_CONTEXT'];
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...dirs], {
    cwd: tree.dir, encoding: 'utf8', timeout: timeoutSec * 1000, maxBuffer: 1 << 28, env,
  });
  if (r.error?.message.includes('ETIMEDOUT')) return `tests hung (over ${timeoutSec} s)`;
  if (r.status === 0) return null;
  // The innermost failing test: TAP prints subtests before their parents.
  const failed = /^\s*not ok \d+ - (.*)$/m.exec(r.stdout);
  return failed ? `failed: ${failed[1]!.slice(0, 80)}` : `exit ${r.status ?? r.signal}`;
}

export type CampaignMode = 'feedback' | 'blind';

export interface CampaignOutcome {
  /** finding, harness error, a non-zero exit or a signal, or a process that outlived its budget. */
  kill: 'finding' | 'harness' | 'crash' | 'hang' | null;
  /** Seconds into the campaign of the kill (or its whole length when none). */
  sec: number;
  /** Executions before the finding, or in the whole campaign; null when unknown. */
  execs: number | null;
  detail: string;
  /** Findings whose program fires on the unmutated sim too: false positives of the sim, not kills. */
  falsePositives: string[];
}

const FINDING_LINE = /^new finding after ([\d.]+) s \(execution (\d+)\): (.*)$/;
const REPRO_LINE = /^reproducer: (\S+)/;
const PROGRESS_LINE = /^execs (\d+) .* (\d+(?:\.\d+)?) of [\d.]+ s$/;

/** Seconds past the budget before a campaign process counts as hung. */
const HANG_GRACE_SEC = 60;
/**
 * Seconds at the end of a campaign without a finished execution that count
 * as a hang: the worker is stuck in one execution that never returns to the
 * scheduler (a loop inside the sim), which the campaign ends without a word.
 */
const STALL_SEC = 15;

/** The arguments of one campaign: one worker, every switch off, first programs kept as found. */
function campaignArgs(tree: MutantTree, mode: CampaignMode, seed: number, budgetSec: number, store: string): string[] {
  return [
    join(tree.dir, 'dist', 'worker', 'cli', 'main.js'), 'fuzz', '--workers', '1', '--seed', String(seed),
    '--duration', String(budgetSec), '--no-minimize', '--store', store,
    ...(mode === 'blind' ? ['--no-feedback', '--schedule', 'random'] : []),
  ];
}

/**
 * A finding's reproducer on the unmutated tree (`root`): null when it runs
 * clean there (the finding is the mutant's), else what it does there. One
 * that fires there too (a violation, exit 1, or a harness error, exit 3) is a
 * false positive of the sim that this campaign happened to reach, and kills
 * nothing; one that cannot be replayed kills nothing either.
 */
function onUnmutatedSim(root: string, repro: string): string | null {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'worker', 'cli', 'main.js'), 'exec', repro], {
    cwd: root, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 26,
  });
  if (r.status === 0) return null;
  const signature = /^signature: (.*)$/m.exec(r.stdout + r.stderr)?.[1];
  if (r.status === 1 || r.status === 3) return `fires on the unmutated sim too (exit ${r.status}${signature ? `: ${signature}` : ''})`;
  return `could not be replayed on the unmutated sim (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`;
}

/**
 * A false positive's reproducer outlives the campaign's scratch store: it is
 * copied under the tree's foliofuzz-store/ (where campaigns keep their runs,
 * ignored by git), named by its signature and execution.
 */
function keepFalsePositive(root: string, repro: string, signature: string, execs: number): string {
  const dir = join(root, 'foliofuzz-store', 'mutants-false-positives');
  mkdirSync(dir, { recursive: true });
  const name = `${signature.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80)}-e${execs}.json`;
  copyFileSync(repro, join(dir, name));
  return join('foliofuzz-store', 'mutants-false-positives', name);
}

interface Watch {
  seen: CampaignOutcome;
  /** Seconds into the campaign when the execution count last grew (progress lines). */
  advancedSec: number;
  /** The finding whose reproducer line comes next. */
  pending: { sec: number; execs: number; signature: string } | null;
  child: ChildProcess;
  t0: number;
  root: string;
}

/**
 * An embedded campaign of `budgetSec` on the copy. Its log lines (stderr,
 * without --json, which would hold them back until the end) are read as they
 * come. A finding is replayed on the unmutated tree while the campaign is
 * paused (SIGSTOP): the first that runs clean there is the kill, and ends the
 * campaign; others are false positives of the sim, and it goes on. The first
 * harness error ends it too: the sim threw, and waiting out the budget would
 * learn nothing more.
 */
export function runCampaign(tree: MutantTree, root: string, mode: CampaignMode, seed: number, budgetSec: number): Promise<CampaignOutcome> {
  const store = mkdtempSync(join(tree.dir, 'store-'));
  const child = spawn(process.execPath, campaignArgs(tree, mode, seed, budgetSec, join(store, 's')), {
    cwd: tree.dir, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const w: Watch = {
    seen: { kill: null, sec: budgetSec, execs: null, detail: '', falsePositives: [] }, advancedSec: 0, pending: null, child, t0: performance.now(), root,
  };
  const elapsed = (): number => (performance.now() - w.t0) / 1000;
  const hang = setTimeout(() => {
    if (w.seen.kill === null) Object.assign(w.seen, { kill: 'hang', sec: elapsed(), detail: `still running ${HANG_GRACE_SEC} s past the budget` });
    child.kill('SIGKILL');
  }, (budgetSec + HANG_GRACE_SEC) * 1000);
  readLines(child, (line) => onCampaignLine(line, w));
  return new Promise<CampaignOutcome>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(hang);
      rmSync(store, { recursive: true, force: true });
      if (w.seen.kill === null && (code !== 0 || signal !== null)) {
        Object.assign(w.seen, { kill: 'crash', sec: elapsed(), detail: `exit ${code ?? signal}` });
      }
      if (w.seen.kill === null && budgetSec - w.advancedSec > STALL_SEC) {
        Object.assign(w.seen, { kill: 'hang', sec: w.advancedSec, detail: `no execution finished after ${w.advancedSec} s of ${budgetSec} s` });
      }
      resolve(w.seen);
    });
  });
}

function onCampaignLine(line: string, w: Watch): void {
  const { seen, child } = w;
  const progress = PROGRESS_LINE.exec(line);
  if (progress && seen.kill === null) {
    const execs = Number(progress[1]);
    if (execs > (seen.execs ?? 0)) w.advancedSec = Number(progress[2]);
    seen.execs = execs;
    seen.sec = Number(progress[2]);
  }
  if (seen.kill !== null) return;
  const finding = FINDING_LINE.exec(line);
  const repro = REPRO_LINE.exec(line);
  if (finding) {
    w.pending = { sec: Number(finding[1]), execs: Number(finding[2]), signature: finding[3]! };
  } else if (repro && w.pending) {
    const f = w.pending;
    w.pending = null;
    child.kill('SIGSTOP');
    const unmutated = onUnmutatedSim(w.root, repro[1]!);
    if (unmutated === null) {
      Object.assign(seen, { kill: 'finding', sec: f.sec, execs: f.execs, detail: f.signature });
      child.kill('SIGKILL');
    } else {
      seen.falsePositives.push(`${f.signature} (execution ${f.execs}): ${unmutated}; kept as ${keepFalsePositive(w.root, repro[1]!, f.signature, f.execs)}`);
      child.kill('SIGCONT');
    }
  } else if (line.startsWith('harness error')) {
    Object.assign(seen, { kill: 'harness', sec: (performance.now() - w.t0) / 1000, execs: null, detail: line.slice(0, 160) });
    child.kill('SIGKILL');
  }
}

function readLines(child: ChildProcess, onLine: (line: string) => void): void {
  let buf = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl).trim());
      buf = buf.slice(nl + 1);
    }
  });
}

// The reproducer commands: `replay`, `minimize`, `export` and `import`.
//
//   replay REPRO [--bugs a,b]           exit 1 and `signature: <sig>` if it reproduces, 0 if not
//   minimize PROGRAM [--bugs a,b] [-o FILE]   a minimized reproducer (native JSON)
//   export REPRO --format F [-o FILE]   json | text | xfs_io | c | fsx | report
//   import (--xfs-io|--fsx) FILE [-o FILE]    a native program
//
// REPRO is a native reproducer or a bare program (then no switch is on unless
// --bugs says so). Bad input is exit 2 with a message that says what and where.
// A bare program that stays clean is no dead end: replay and minimize say
// which switches make it fire (and where its finding's reproducer is).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { runProgram } from '../exec/run.js';
import { MinimizeError } from '../fuzz/minimize-predicate.js';
import type { Program } from '../prog/types.js';
import { ProgramInputError } from '../prog/errors.js';
import { ExportError } from '../repro/errors.js';
import { switchesThatFire } from '../repro/explain.js';
import { EXPORT_FORMATS, type ExportFormat, exportRepro } from '../repro/export.js';
import { type Repro, makeRepro, parseRepro, reproJson } from '../repro/repro.js';
import { plural } from '../repro/words.js';
import type { BugName } from '../sim/bugs.js';
import type { MinimizeThreadInput, MinimizeThreadMessage } from './minimize-thread.js';
import { parseBugList } from './bugs.js';
import { EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_VIOLATION, type ExecArgs, loadProgram } from './exec.js';
import { storedKernelVerdict } from './stored-verdict.js';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ProgramInputError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/**
 * Read a reproducer, with the kernel verdict its finding's record holds when
 * it lies in a store; --bugs, when given, replaces its switches.
 */
function loadRepro(path: string, bugs: string | undefined): Repro {
  const r = parseRepro(readText(path), path);
  if (r.kernel === undefined) {
    const stored = storedKernelVerdict(path);
    if (stored) r.kernel = stored;
  }
  return bugs === undefined ? r : { ...r, bugs: [...parseBugList(bugs)] };
}

function output(text: string, file: string | undefined): void {
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}

/**
 * Why a program that runs clean as given might still be a finding: the
 * reproducer stored beside it (a finding's first.json), and the switches
 * under which it fires. Empty when neither helps.
 */
export function cleanRunHints(command: 'replay' | 'minimize', path: string, program: Program, bugs: readonly BugName[]): string[] {
  const out: string[] = [];
  const sibling = join(dirname(path), 'repro.json');
  if (!path.endsWith('repro.json') && existsSync(sibling)) out.push(`hint: this is a finding's program; its reproducer, with its switches, is ${sibling}`);
  if (bugs.length > 0) return out;
  const fires = switchesThatFire(program);
  if (fires) {
    out.push(`hint: no switch was on; with --bugs ${fires.needed.join(',') || '(none)'} it shows ${fires.signature}`,
      `  foliofuzz ${command} ${path} --bugs ${fires.needed.join(',')}`);
  }
  return out;
}

/** Run `body`, turning input errors into exit 2. */
function guarded(body: () => number): number {
  try {
    return body();
  } catch (e) {
    // ExportError: the program does not fit the format (fsx has no drop_caches, say).
    if (e instanceof ProgramInputError || e instanceof MinimizeError || e instanceof ExportError) {
      process.stderr.write(`${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
}

export function replayCommand(path: string, opts: { bugs?: string }): number {
  return guarded(() => {
    const r = loadRepro(path, opts.bugs);
    const res = runProgram(r.program, { bugs: new Set<BugName>(r.bugs) });
    if (res.harnessError) {
      process.stderr.write(`harness error (a bug in the simulator, not a kernel finding):\n${res.harnessError}\n`);
      return EXIT_BAD_INPUT + 1;
    }
    const sig = res.violation?.signature ?? null;
    if (r.signature && sig !== r.signature) {
      process.stdout.write(`expected: ${r.signature}\n`);
    }
    if (!sig) {
      process.stdout.write('clean: no violation\n');
      for (const h of cleanRunHints('replay', path, r.program, r.bugs)) process.stderr.write(`${h}\n`);
      return EXIT_CLEAN;
    }
    process.stdout.write(`${res.violation!.message}\nsignature: ${sig}\n`);
    return EXIT_VIOLATION;
  });
}

/** Off a terminal, a progress line this often; on one, a live line every second. */
const MINIMIZE_LOG_SEC = 10;

/** Minimize on a thread of its own; the main thread shows how long it has been at it. */
function minimizeOnThread(input: MinimizeThreadInput, label: string): Promise<MinimizeThreadMessage & { type: 'done' | 'error' }> {
  const tty = process.stderr.isTTY === true;
  const t0 = performance.now();
  const tick = setInterval(() => {
    const sec = Math.round((performance.now() - t0) / 1000);
    if (tty) process.stderr.write(`\r\x1b[Kminimizing ${label}: ${sec} s`);
    else if (sec % MINIMIZE_LOG_SEC === 0) process.stderr.write(`minimizing ${label}: ${sec} s so far\n`);
  }, 1000);
  const clear = (): void => {
    clearInterval(tick);
    if (tty) process.stderr.write('\r\x1b[K');
  };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./minimize-thread.js', import.meta.url), { workerData: input });
    w.on('message', (m: MinimizeThreadMessage) => {
      if (m.type === 'slipped') {
        if (tty) process.stderr.write('\r\x1b[K');
        process.stderr.write(`on the way, another signature (kept apart): ${m.signature}\n`);
        return;
      }
      clear();
      resolve(m);
      void w.terminate();
    });
    w.on('error', (err) => {
      clear();
      reject(err);
    });
  });
}

export async function minimizeCommand(path: string, opts: { bugs?: string; out?: string; maxRuns?: string }): Promise<number> {
  let r: Repro;
  let bugs: BugName[];
  let maxRuns: number | undefined;
  const input = guarded(() => {
    r = parseRepro(readText(path), path);
    bugs = opts.bugs === undefined ? r.bugs : [...parseBugList(opts.bugs)];
    maxRuns = opts.maxRuns === undefined ? undefined : Number(opts.maxRuns);
    if (maxRuns !== undefined && (!Number.isInteger(maxRuns) || maxRuns < 1)) {
      throw new ProgramInputError(`--max-runs: '${opts.maxRuns}' is not a positive integer`);
    }
    return EXIT_CLEAN;
  });
  if (input !== EXIT_CLEAN) return input;
  const label = `${plural(r!.program.threads.reduce((n, t) => n + t.ops.length, 0), 'op')} (budget ${maxRuns === undefined ? 'the default runs' : plural(maxRuns, 'run')})`;
  const m = await minimizeOnThread({
    program: r!.program, bugs: bugs!, ...(r!.signature ? { signature: r!.signature } : {}), ...(maxRuns !== undefined ? { maxRuns } : {}),
  }, label);
  if (m.type === 'error') {
    if (!m.minimizeError) throw new Error(m.message);
    process.stderr.write(`${m.message}\n`);
    for (const h of cleanRunHints('minimize', path, r!.program, bugs!)) process.stderr.write(`${h}\n`);
    return EXIT_BAD_INPUT;
  }
  const res = m.result;
  const check = runProgram(res.program, { bugs: new Set(bugs!) });
  const out = makeRepro(res.program, bugs!, check.violation, { minimized: { opsBefore: res.opsBefore, opsAfter: res.opsAfter } });
  for (const st of res.stages) process.stderr.write(`  ${st.name.padEnd(16)} ${plural(st.opsAfter, 'op')} (${plural(st.runs, 'run')})\n`);
  process.stderr.write(`minimized: ${res.opsBefore} -> ${plural(res.opsAfter, 'op')}, ${res.threadsBefore} -> ${plural(res.threadsAfter, 'thread')}, ` +
    `${res.decisionsBefore} -> ${plural(res.decisionsAfter, 'decision')} in ${plural(res.runs, 'run')}; signature: ${res.signature}\n`);
  output(reproJson(out), opts.out);
  return EXIT_CLEAN;
}

export function exportCommand(path: string, opts: { format?: string; out?: string; bugs?: string }): number {
  return guarded(() => {
    const format = opts.format ?? 'json';
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new ProgramInputError(`--format: '${format}' is not one of ${EXPORT_FORMATS.join(', ')}`);
    }
    const r = loadRepro(path, opts.bugs);
    const { files } = exportRepro(r, format as ExportFormat);
    if (files.length === 1) {
      output(files[0]!.text, opts.out);
      return EXIT_CLEAN;
    }
    // Several files (one xfs_io script per thread): -o is the prefix of their names.
    for (const f of files) {
      if (opts.out) writeFileSync(`${opts.out}.${f.name}`, f.text);
      else process.stdout.write(`==> ${f.name} <==\n${f.text}`);
    }
    return EXIT_CLEAN;
  });
}

export function importCommand(args: ExecArgs & { out?: string }): number {
  return guarded(() => {
    if ((args.xfsIo === undefined) === (args.fsx === undefined)) {
      throw new ProgramInputError('import: give exactly one of --xfs-io SCRIPT, --fsx OPSFILE');
    }
    output(JSON.stringify(loadProgram(args), null, 2) + '\n', args.out);
    return EXIT_CLEAN;
  });
}

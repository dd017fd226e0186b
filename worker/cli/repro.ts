// The reproducer commands: `replay`, `minimize`, `export` and `import`.
//
//   replay REPRO [--bugs a,b]           exit 1 and `signature: <sig>` if it reproduces, 0 if not
//   minimize PROGRAM [--bugs a,b] [-o FILE]   a minimized reproducer (native JSON)
//   export REPRO --format F [-o FILE]   json | text | xfs_io | c | fsx
//   import (--xfs-io|--fsx) FILE [-o FILE]    a native program
//
// REPRO is a native reproducer or a bare program (then no switch is on unless
// --bugs says so). Bad input is exit 2 with a message that says what and where.

import { readFileSync, writeFileSync } from 'node:fs';
import { runProgram } from '../exec/run.js';
import { minimizeProgram } from '../fuzz/minimize.js';
import { MinimizeError } from '../fuzz/minimize-predicate.js';
import { ProgramInputError } from '../prog/errors.js';
import { ExportError } from '../repro/errors.js';
import { EXPORT_FORMATS, type ExportFormat, exportRepro } from '../repro/export.js';
import { type Repro, makeRepro, parseRepro, reproJson } from '../repro/repro.js';
import type { BugName } from '../sim/bugs.js';
import { parseBugList } from './bugs.js';
import { EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_VIOLATION, type ExecArgs, loadProgram } from './exec.js';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ProgramInputError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Read a reproducer; --bugs, when given, replaces its switches. */
function loadRepro(path: string, bugs: string | undefined): Repro {
  const r = parseRepro(readText(path), path);
  return bugs === undefined ? r : { ...r, bugs: [...parseBugList(bugs)] };
}

function output(text: string, file: string | undefined): void {
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
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
      return EXIT_CLEAN;
    }
    process.stdout.write(`${res.violation!.message}\nsignature: ${sig}\n`);
    return EXIT_VIOLATION;
  });
}

export function minimizeCommand(path: string, opts: { bugs?: string; out?: string; maxRuns?: string }): number {
  return guarded(() => {
    const text = readText(path);
    const r = parseRepro(text, path);
    const bugs = opts.bugs === undefined ? r.bugs : [...parseBugList(opts.bugs)];
    const maxRuns = opts.maxRuns === undefined ? undefined : Number(opts.maxRuns);
    if (maxRuns !== undefined && (!Number.isInteger(maxRuns) || maxRuns < 1)) {
      throw new ProgramInputError(`--max-runs: '${opts.maxRuns}' is not a positive integer`);
    }
    const res = minimizeProgram(r.program, {
      bugs: new Set(bugs),
      ...(r.signature ? { signature: r.signature } : {}),
      ...(maxRuns !== undefined ? { maxRuns } : {}),
      onNewFinding: (sig) => process.stderr.write(`on the way, another signature (kept apart): ${sig}\n`),
    });
    const check = runProgram(res.program, { bugs: new Set(bugs) });
    const out = makeRepro(res.program, bugs, check.violation, { minimized: { opsBefore: res.opsBefore, opsAfter: res.opsAfter } });
    for (const st of res.stages) process.stderr.write(`  ${st.name.padEnd(10)} ${st.opsAfter} ops (${st.runs} runs)\n`);
    process.stderr.write(`minimized: ${res.opsBefore} -> ${res.opsAfter} ops, ${res.threadsBefore} -> ${res.threadsAfter} threads, ` +
      `${res.decisionsBefore} -> ${res.decisionsAfter} decisions in ${res.runs} runs; signature: ${res.signature}\n`);
    output(reproJson(out), opts.out);
    return EXIT_CLEAN;
  });
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

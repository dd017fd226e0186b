// `foliofuzz exec`: run one program (native JSON, a reproducer, an xfs_io
// script or an fsx opsfile) on the sim, check it, and dump the files. Exit 0
// clean, 1 on a violation (last line `signature: <sig>`), 2 on bad input, 3
// on a harness error. A reproducer runs with its own switches unless --bugs
// names others.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProgramInputError } from '../prog/errors.js';
import { parseFsxOps } from '../prog/fsx.js';
import { parseProgramJson, validateProgram } from '../prog/validate.js';
import { parseXfsIoScript } from '../prog/xfs-io.js';
import { DEFAULT_CONFIG, type Program, type SimConfig } from '../prog/types.js';
import { runProgram } from '../exec/run.js';
import { parseRepro } from '../repro/repro.js';
import type { BugName, BugSet } from '../sim/bugs.js';
import { parseBugList } from './bugs.js';

export interface ExecArgs {
  program?: string;
  xfsIo?: string;
  fsx?: string;
  direct?: boolean;
  fs?: string;
  blockSize?: string;
  folioMax?: string;
  dumpDir?: string;
  trace?: boolean;
  bugs?: string;
}

export const EXIT_CLEAN = 0;
export const EXIT_VIOLATION = 1;
export const EXIT_BAD_INPUT = 2;

/** --fs, --block-size, --folio-max over a base config. */
export function configFromFlags(base: SimConfig, args: ExecArgs): SimConfig {
  const cfg = { ...base };
  if (args.fs !== undefined) {
    const fs = args.fs;
    if (fs === 'ext4-indirect') {
      cfg.fs = 'ext4';
      cfg.inode = 'indirect';
    } else if (fs === 'ext4' || fs === 'xfs' || fs === 'fuse') {
      cfg.fs = fs;
      cfg.inode = 'extent';
    } else {
      throw new ProgramInputError(`--fs: unknown filesystem '${fs}' (ext4, ext4-indirect, xfs, fuse)`);
    }
  }
  const num = (flag: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new ProgramInputError(`${flag}: '${v}' is not a number`);
    return Number(v);
  };
  if (args.blockSize !== undefined) cfg.blockSize = num('--block-size', args.blockSize);
  if (args.folioMax !== undefined) cfg.folioMax = num('--folio-max', args.folioMax);
  return cfg;
}

function readInput(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ProgramInputError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** A native JSON file: a bare program, or a reproducer (then with the switches it carries). */
function readNative(path: string): { program: Program; bugs: BugName[] | null } {
  const text = readInput(path);
  let format: unknown;
  try {
    format = (JSON.parse(text) as { format?: unknown } | null)?.format;
  } catch {
    // parseProgramJson says what is wrong with it, and where.
  }
  if (format === undefined) return { program: parseProgramJson(text, path), bugs: null };
  const r = parseRepro(text, path);
  return { program: r.program, bugs: r.bugs };
}

/** Load the program the flags name, with the flags' config applied and validated. */
export function loadProgram(args: ExecArgs): Program {
  return loadInput(args).program;
}

/** The program the flags name, and the switches its file carries when it is a reproducer. */
function loadInput(args: ExecArgs): { program: Program; bugs: BugName[] | null } {
  const sources = [args.program, args.xfsIo, args.fsx].filter((x) => x !== undefined);
  if (sources.length !== 1) throw new ProgramInputError('exec: give exactly one of PROGRAM.json, --xfs-io SCRIPT, --fsx OPSFILE');
  const config = configFromFlags(DEFAULT_CONFIG, args);
  // The importers and the JSON reader validate what they return; only a
  // program the flags changed afterwards is validated again.
  if (args.xfsIo !== undefined) {
    return { program: parseXfsIoScript(readInput(args.xfsIo), args.xfsIo, { direct: !!args.direct, config }), bugs: null };
  }
  if (args.fsx !== undefined) {
    return { program: parseFsxOps(readInput(args.fsx), args.fsx, { direct: !!args.direct, config }), bugs: null };
  }
  const path = args.program!;
  const native = readNative(path);
  let prog = { ...native.program, config: configFromFlags(native.program.config, args) };
  if (args.direct) prog = { ...prog, fds: prog.fds.map((f) => ({ ...f, direct: true })) };
  return { program: validateProgram(prog, path), bugs: native.bugs };
}

export function execCommand(args: ExecArgs): number {
  let prog: Program;
  let bugs: BugSet;
  try {
    bugs = parseBugList(args.bugs);
    const input = loadInput(args);
    prog = input.program;
    if (input.bugs !== null && args.bugs === undefined) {
      bugs = new Set(input.bugs);
      process.stderr.write(`exec: a reproducer: its switches are on (${input.bugs.join(', ') || 'none'}); --bugs chooses others\n`);
    }
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
  const out = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  const res = runProgram(prog, args.trace ? { trace: out, bugs } : { bugs });
  if (args.dumpDir) {
    mkdirSync(args.dumpDir, { recursive: true });
    for (const f of res.files) writeFileSync(join(args.dumpDir, f.name), f.data);
  }
  if (res.harnessError) {
    process.stderr.write(`harness error (a bug in the simulator, not a kernel finding):\n${res.harnessError}\n`);
    return EXIT_BAD_INPUT + 1;
  }
  if (res.violation) {
    const v = res.violation;
    if (!args.trace && v.traceTail.length > 0) {
      out('last ops:');
      for (const line of v.traceTail) out(`  ${line}`);
    }
    out(`violation (step ${v.step}): ${v.message}`);
    for (const st of v.stacks) out(`  ${st.thread}: ${st.frames.length ? st.frames.join(' -> ') : '(idle)'}`);
    out(`signature: ${v.signature}`);
    return EXIT_VIOLATION;
  }
  return EXIT_CLEAN;
}

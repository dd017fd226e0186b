// `foliofuzz kernel confirm REPRO [--runs N] [--dir DIR] [--keep] [--seed N] [--json] [--report FILE]`:
// does this machine's kernel have the bug the reproducer shows?
//
// As root it makes a loop image with the filesystem the program's config
// names (or, for fuse, our passthrough daemon over one), runs the program N
// times on it, judges every run by the oracle's rules, and takes it all down
// again on every way out. With --dir it runs on that directory instead,
// after checking its filesystem type and block size.
//
// Exit: 0 not reproduced, 1 reproduces, 2 bad usage or input, 3 cannot run here.
// A reproducer inside a store (findings/<id>/repro.json) gets the verdict
// written into its finding.json, where `findings`, the API and the dashboard
// show it. --report writes the bug report with the verdict and the kernel's
// log in it (`export --format report` of a stored finding quotes it too).

import type { TwinMount } from '../twin/provision.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { ProgramInputError } from '../prog/errors.js';
import { type KernelVerdict, MAX_KERNEL_CONFIRM_RUNS } from '../report/kernel-verdict.js';
import { exportReport } from '../repro/report.js';
import { type Repro, parseRepro } from '../repro/repro.js';
import { recordKernelVerdict } from './stored-verdict.js';
import { confirmOnKernel } from '../twin/confirm.js';
import { EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_VIOLATION } from './exec.js';

export const EXIT_CANNOT_RUN = 3;

export interface ConfirmArgs {
  repro: string;
  runs?: string;
  dir?: string;
  /** Leave the loop mount and the last run's files in place. */
  keep?: boolean;
  seed?: string;
  json: boolean;
  /** Write the bug report, with this verdict in it, to this file. */
  report?: string;
}

function count(flag: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new ProgramInputError(`${flag}: '${v}' is not an integer in [1, ${max}]`);
  return Number(v);
}

/** Record the verdict in the reproducer's finding.json, if it lies in a store; a malformed record is said, not fatal: the verdict is printed anyway. */
function recordIfStored(repro: string, v: KernelVerdict): string | null {
  try {
    return recordKernelVerdict(repro, v);
  } catch (e) {
    if (!(e instanceof ProgramInputError)) throw e;
    process.stderr.write(`not recorded: ${e.message}\n`);
    return null;
  }
}

export async function kernelConfirmCommand(a: ConfirmArgs): Promise<number> {
  let repro: Repro;
  let runs: number;
  let seed: number;
  try {
    const text = readFileSync(a.repro, 'utf8');
    repro = parseRepro(text, a.repro);
    runs = count('--runs', a.runs, 100, MAX_KERNEL_CONFIRM_RUNS);
    seed = count('--seed', a.seed, 1, 2 ** 32 - 1);
  } catch (e) {
    const msg = e instanceof ProgramInputError ? e.message : `${a.repro}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    process.stderr.write(`${msg}\n`);
    return EXIT_BAD_INPUT;
  }
  const progress = process.stderr.isTTY
    ? (done: number, hits: number) => process.stderr.write(`\r${done} of ${runs} runs, ${hits} reproduced`)
    : undefined;
  const keep = a.keep === true ? (m: TwinMount): void => {
    const steps = m.keep?.() ?? [];
    process.stderr.write(`kept: ${m.dir}, the filesystem as the runs left it; to remove it: ${steps.join('; ')} (the next kernel confirm or campaign on this machine removes it too)\n`);
  } : undefined;
  const v = await confirmOnKernel(repro.program, {
    runs, seed, ...(a.dir !== undefined ? { dir: a.dir } : {}), ...(progress ? { onProgress: progress } : {}), ...(keep ? { keep } : {}),
  });
  if (progress) process.stderr.write('\n');
  const stored = recordIfStored(a.repro, v);
  if (a.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  else process.stdout.write(`${v.text}\n${stored ? `(recorded in ${stored})\n` : ''}`);
  if (a.report !== undefined) {
    writeFileSync(a.report, exportReport({ ...repro, kernel: v }));
    process.stderr.write(`report: ${a.report}\n`);
  }
  if (v.verdict === 'reproduces') return EXIT_VIOLATION;
  return v.verdict === 'cannot-run' ? EXIT_CANNOT_RUN : EXIT_CLEAN;
}

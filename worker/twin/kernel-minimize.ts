// Minimizing a kernel campaign's finding with the kernel as the predicate: a
// candidate is kept when running it in the sim and on the kernel still shows
// the same signature (differential.ts). Each test costs a kernel run, so the
// stages are the cheap, effective ones: ddmin over ops, then single cuts to a
// fixpoint, then unused fds and files dropped; a budget of tests bounds it.

import { cloneProgram } from '../prog/clone.js';
import { cutOps, dropEmptyThreads, opPositions, renumber } from '../fuzz/minimize-edit.js';
import { programSize } from '../fuzz/minimize-predicate.js';
import type { Program } from '../prog/types.js';
import { stillShows } from './differential.js';
import type { TwinMount } from './provision.js';

export interface KernelMinimizeResult {
  program: Program;
  opsBefore: number;
  opsAfter: number;
  tests: number;
}

/** Tests one minimization may take (each a sim run and one or more kernel runs). */
export const KERNEL_MINIMIZE_TESTS = 200;

class KernelPredicate {
  tests = 0;
  constructor(
    private readonly mount: TwinMount,
    private readonly signature: string,
    private readonly budget: number,
  ) {}

  get exhausted(): boolean {
    return this.tests >= this.budget;
  }

  async keeps(p: Program): Promise<boolean> {
    this.tests++;
    return stillShows(p, this.mount, this.signature);
  }
}

async function ddmin(p: Program, o: KernelPredicate): Promise<Program> {
  let chunk = Math.max(1, Math.floor(programSize(p) / 2));
  for (;;) {
    let i = 0;
    while (i < programSize(p) && !o.exhausted) {
      const cand = dropEmptyThreads(cutOps(p, opPositions(p).slice(i, i + chunk)));
      if (programSize(cand) > 0 && programSize(cand) < programSize(p) && (await o.keeps(cand))) p = cand;
      else i += chunk;
    }
    if (chunk === 1 || o.exhausted) return p;
    chunk = Math.max(1, Math.floor(chunk / 2));
  }
}

/** Shrink `p`, which shows `signature` on the kernel twin, to fewer ops that still show it. */
export async function minimizeOnKernel(p: Program, signature: string, mount: TwinMount, budget = KERNEL_MINIMIZE_TESTS): Promise<KernelMinimizeResult> {
  const o = new KernelPredicate(mount, signature, budget);
  const opsBefore = programSize(p);
  let best = cloneProgram(p);
  best = await ddmin(best, o);
  const tidy = renumber(best);
  if (!o.exhausted && (await o.keeps(tidy))) best = tidy;
  return { program: best, opsBefore, opsAfter: programSize(best), tests: o.tests };
}

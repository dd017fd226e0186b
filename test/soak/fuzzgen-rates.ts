// Measures how often purely generated programs (and generated-then-mutated
// ones: 1-5 mutations) hit each bug switch, and what is reported with every
// switch off. A hit is a violation with the switch on on a program that is
// clean with every switch off (a violation there is a sim false positive, not
// a find). Not a test: `node dist/test/soak/fuzzgen-rates.js [N] [switch...]`.

import { runProgram } from '../../worker/exec/run.js';
import { generateProgram } from '../../worker/fuzz/generate.js';
import { mutateProgram } from '../../worker/fuzz/mutate.js';
import { FuzzRng } from '../../worker/fuzz/rng.js';
import { BUG_SWITCHES, type BugName } from '../../worker/sim/bugs.js';
import type { Program } from '../../worker/prog/types.js';

const n = Number(process.argv[2] ?? 3000);
const only = process.argv.slice(3);

function program(seed: number, mutated: boolean): Program {
  const rng = new FuzzRng(seed);
  let p = generateProgram(rng);
  if (mutated) {
    const k = rng.range(1, 5);
    for (let i = 0; i < k; i++) p = mutateProgram(p, rng, []);
  }
  return p;
}

function survey(mutated: boolean): void {
  const t0 = performance.now();
  const progs = Array.from({ length: n }, (_, i) => program((i + 1) * 7919, mutated));
  const tGen = performance.now();
  const clean: Program[] = [];
  const fpSigs = new Map<string, number>();
  let harness = 0;
  for (const p of progs) {
    const r = runProgram(p, {});
    if (r.harnessError) harness++;
    if (r.violation) fpSigs.set(r.violation.signature, (fpSigs.get(r.violation.signature) ?? 0) + 1);
    else clean.push(p);
  }
  const tRun = performance.now();
  const what = mutated ? 'mutated' : 'generated';
  console.log(`${what}: ${n} programs, ${(n / ((tGen - t0) / 1000)).toFixed(0)} made/s, ${(n / ((tRun - tGen) / 1000)).toFixed(0)} run/s; ` +
    `switches off: ${n - clean.length} violations, ${harness} harness errors`);
  for (const [sig, c] of fpSigs) console.log(`  off: ${c} × ${sig}`);
  for (const sw of BUG_SWITCHES) {
    if (!sw.implemented || sw.benign || (only.length && !only.includes(sw.name))) continue;
    const bugs = new Set<BugName>([sw.name]);
    let hits = 0;
    for (const p of clean) if (runProgram(p, { bugs }).violation) hits++;
    console.log(`  ${sw.name.padEnd(38)} ${String(hits).padStart(5)}/${n}  ${(100 * hits / n).toFixed(2)}%`);
  }
}

survey(false);
survey(true);

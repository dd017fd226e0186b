// Honesty soak (npm run soak [-- N]): N seeded random concurrent programs
// (2-4 threads over shared files, random or PCT schedules, every config) with
// every bug switch off must produce no finding. Prints the count per
// signature and writes the first program of each to the OS temp dir for
// `foliofuzz exec`. Not part of `npm test`: it is long, and its findings are
// work items, not regressions of a change.

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from '../../worker/exec/run.js';
import { CONFIGS, generateConcurrentProgram } from '../property/gen.js';

const n = Number(process.argv[2] ?? 2000);
const base = Number(process.env['FOLIOFUZZ_SOAK_SEED'] ?? 7000);
const counts = new Map<string, number>();
let findings = 0;
const started = Date.now();
for (let i = 0; i < n; i++) {
  const seed = base + i;
  const program = generateConcurrentProgram(seed, CONFIGS[i % CONFIGS.length]!, 2 + (i % 3));
  const r = runProgram(program);
  const sig = r.violation?.signature ?? (r.harnessError ? `HARNESS ${r.harnessError.split('\n')[0]}` : null);
  if (!sig) continue;
  findings++;
  const seen = counts.get(sig) ?? 0;
  counts.set(sig, seen + 1);
  if (seen === 0) {
    const path = join(tmpdir(), `foliofuzz-soak-${seed}.json`);
    writeFileSync(path, JSON.stringify(program, null, 2) + '\n');
    process.stdout.write(`seed ${seed}: ${sig}\n  replay: node dist/worker/cli/main.js exec ${path}\n`);
  }
}
const secs = (Date.now() - started) / 1000;
process.stdout.write(`${n} concurrent programs in ${secs.toFixed(1)} s (${(n / secs).toFixed(0)}/s), ${findings} with findings\n`);
for (const [sig, c] of counts) process.stdout.write(`  ${c}  ${sig}\n`);
process.exitCode = findings ? 1 : 0;

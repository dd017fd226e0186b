// Re-derive the schedules of the known reproducers (npm run known:refresh).
//
// A recorded schedule names choice points by the enabled sets the sim had when
// it was recorded; a change to the sim's preemption points moves them. This
// searches each reproducer's program with the random strategy from its
// manifest's `searchFrom` seed until the switch fires with the expected
// signature, checks it runs clean without the switch, and writes the
// recorded (replay) schedule back.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../worker/exec/run.js';
import { validateProgram } from '../../worker/prog/validate.js';
import type { BugName } from '../../worker/sim/bugs.js';

interface Entry {
  switch: BugName;
  program: string;
  signature: string;
  searchFrom: number;
  scenario: string;
}

const DIR = fileURLToPath(new URL('../../../corpus/known/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[];
let failed = 0;
for (const e of manifest) {
  const path = join(DIR, e.program);
  const prog = validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
  // A control (no signature) or a reproducer that needs no scheduling decision keeps its schedule.
  const fires = runProgram(prog, { bugs: new Set([e.switch]) }).violation?.signature ?? '';
  if (fires === e.signature && !runProgram(prog).violation) {
    process.stdout.write(`${e.switch}: reproduces as it is\n`);
    continue;
  }
  let found = false;
  for (let seed = e.searchFrom; seed < e.searchFrom + 5000 && !found; seed++) {
    const trial = { ...prog, schedule: { strategy: 'random' as const, seed, depth: 0, decisions: [] } };
    const r = runProgram(trial, { bugs: new Set([e.switch]) });
    if (r.violation?.signature !== e.signature || !r.schedule) continue;
    const replay = { ...prog, schedule: { ...r.schedule, seed: 0 } };
    if (runProgram(replay).violation) continue;
    if (runProgram(replay, { bugs: new Set([e.switch]) }).violation?.signature !== e.signature) continue;
    writeFileSync(path, JSON.stringify(replay, null, 2) + '\n');
    process.stdout.write(`${e.switch}: random seed ${seed}, ${r.schedule.decisions.length} decisions\n`);
    found = true;
  }
  if (!found) {
    process.stdout.write(`${e.switch}: no schedule found from seed ${e.searchFrom}\n`);
    failed++;
  }
}
process.exitCode = failed ? 1 : 0;

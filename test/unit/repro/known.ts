// The known reproducers of corpus/known/, as Repros, for the repro tests.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import type { Program } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { makeRepro, type Repro } from '../../../worker/repro/repro.js';
import type { BugName } from '../../../worker/sim/bugs.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const KNOWN = join(ROOT, 'corpus', 'known');

export interface KnownRepro {
  name: BugName;
  /** The manifest's signature ('' for a control). */
  signature: string;
  program: Program;
  repro: Repro;
}

interface Entry { switch: BugName; program: string; signature: string }

export function knownRepros(): KnownRepro[] {
  const manifest = JSON.parse(readFileSync(join(KNOWN, 'manifest.json'), 'utf8')) as Entry[];
  return manifest.map((e) => {
    const path = join(KNOWN, e.program);
    const program = validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
    const v = runProgram(program, { bugs: new Set([e.switch]) }).violation;
    return { name: e.switch, signature: e.signature, program, repro: makeRepro(program, [e.switch], v) };
  });
}

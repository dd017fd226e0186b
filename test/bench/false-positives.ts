// A finding a benchmark's campaign met with every switch off is a false
// positive of the sim: its first program is kept where the campaign's store
// (removed with the trial) does not take it along, in
// foliofuzz-store/<kind>-false-positives/ (ignored by git), to replay with
// `foliofuzz replay FILE --bugs ''`.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Program } from '../../worker/prog/types.js';

/** Write the program; the path written. */
export function keepFalsePositive(kind: string, program: Program, signature: string): string {
  const dir = join('foliofuzz-store', `${kind}-false-positives`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${signature.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80)}-${Date.now()}.json`);
  writeFileSync(path, JSON.stringify(program, null, 2) + '\n');
  return path;
}

// Fixed false positives (corpus/regress/): each replays clean with every switch off.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import { parseRepro } from '../../../worker/repro/repro.js';

const DIR = join(fileURLToPath(new URL('../../../../', import.meta.url)), 'corpus', 'regress');

for (const name of readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()) {
  test(`regression ${name}: clean with every switch off`, () => {
    const r = parseRepro(readFileSync(join(DIR, name), 'utf8'), name);
    const res = runProgram(r.program);
    assert.equal(res.harnessError, null);
    assert.equal(res.violation, null, res.violation?.signature);
  });
}

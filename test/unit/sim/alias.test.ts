// Alias coverage (worker/sim/alias.ts): a pair is recorded only when two
// contexts meet on one object and one of them writes; runs are deterministic;
// turning it off leaves the rest of the coverage as it was.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { executeProgram } from '../../../worker/fuzz/executor.js';
import { CoverageSet } from '../../../worker/fuzz/coverage.js';
import type { Program } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { aliasCell, aliasCoverage, aliasEvent, aliasRead, aliasReset, aliasRunning, aliasWrite } from '../../../worker/sim/alias.js';
import { covMap, covReset, covSite } from '../../../worker/sim/cov.js';
import { NO_BUGS } from '../../../worker/sim/bugs.js';

const SITE_W = covSite('alias-test:write');
const SITE_R = covSite('alias-test:read');

function points(): number {
  return CoverageSet.pointsOf(covMap).length;
}

test('alias: a pair is recorded when another context reads or writes what one context wrote, never within one context', () => {
  covReset();
  aliasCoverage(true);
  const cell = aliasCell();
  aliasRunning(0, ['ksys_pwrite64'], 'T0');
  aliasWrite(cell, SITE_W);
  aliasRead(cell, SITE_R);
  aliasWrite(cell, SITE_W);
  assert.equal(points(), 0, 'one context alone makes no pair');
  aliasRunning(1, ['ksys_pread64'], 'T1');
  aliasRead(cell, SITE_R);
  assert.equal(points(), 1, 'read after another context wrote: a def-use pair');
  aliasRead(cell, SITE_R);
  assert.equal(points(), 1, 'the same pair again is not new');
  aliasRunning(0, ['ksys_pwrite64'], 'T0');
  aliasWrite(cell, SITE_W);
  assert.equal(points(), 2, 'write after another context read: an anti-dependency pair (its own write is not one)');
  aliasEvent('iomap_dio_bio_end_io');
  aliasWrite(cell, SITE_W);
  assert.equal(points(), 4, 'a completion is a context of its own: output and anti pairs');
  aliasReset();
});

test('alias: a read by a context that never met a writer records nothing; off records nothing', () => {
  covReset();
  aliasCoverage(true);
  const cell = aliasCell();
  aliasRunning(3, [], 'flusher');
  aliasRead(cell, SITE_R);
  aliasRunning(4, [], 'T4');
  aliasRead(cell, SITE_R);
  assert.equal(points(), 0, 'two reads do not conflict');
  aliasCoverage(false);
  aliasWrite(cell, SITE_W);
  aliasRunning(3, [], 'flusher');
  aliasRead(cell, SITE_R);
  assert.equal(points(), 0);
  aliasCoverage(true);
  aliasReset();
});

const RACE = validateProgram(
  JSON.parse(readFileSync(new URL('../../../../corpus/known/zero-batch-locked-folio.json', import.meta.url), 'utf8')) as Program,
  'zero-batch-locked-folio.json',
);

function coverageOf(p: Program, alias: boolean): Set<number> {
  const out = executeProgram(p, { bugs: NO_BUGS, timeoutMs: 10_000, aliasCoverage: alias });
  assert.equal(out.kind, 'ok');
  return new Set(CoverageSet.pointsOf(covMap));
}

test('alias: a racing program reaches pairs on top of its line coverage, the same ones every run', () => {
  assert.ok(RACE.threads.length >= 2);
  const off = coverageOf(RACE, false);
  const on = coverageOf(RACE, true);
  for (const p of off) assert.ok(on.has(p), `point ${p} of the run without alias coverage is missing with it`);
  assert.ok(on.size > off.size, `alias pairs add points (${off.size} -> ${on.size})`);
  assert.deepEqual([...coverageOf(RACE, true)], [...on], 'same program, same schedule: same pairs');
});

// Embedded campaigns end to end: from an empty corpus, within a fixed
// execution budget, a campaign with one seed switch on finds it, stores a
// reproducer that replays, and says so in the --json document; with every
// switch off it finds nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import { runCampaign } from '../../../worker/fuzz/campaign.js';
import { parseRepro } from '../../../worker/repro/repro.js';

const CLI = fileURLToPath(new URL('../../../worker/cli/main.js', import.meta.url));

function tempStore(): string {
  return mkdtempSync(join(tmpdir(), 'foliofuzz-campaign-'));
}

test('a campaign finds mkwrite-ifs-zeroed from an empty corpus within 6,000 executions and stores a reproducer that replays', async () => {
  const store = tempStore();
  try {
    const s = await runCampaign({
      bugs: ['mkwrite-ifs-zeroed'], workers: 2, seed: 11, maxExecs: 6000, untilFound: 1, storeDir: store, feedback: true,
    });
    assert.ok(s.findings.length >= 1, `no finding in ${s.execs} execs`);
    const f = s.findings[0]!;
    assert.match(f.signature, /^INVARIANT folio_unlock:ifs-not-uptodate/);
    assert.ok(f.firstFoundExec <= 6000);
    assert.ok(f.opsAfter <= f.opsBefore, `minimized ${f.opsBefore} -> ${f.opsAfter}`);
    assert.ok(f.repro && existsSync(f.repro), 'reproducer stored');
    const repro = parseRepro(readFileSync(f.repro, 'utf8'), f.repro);
    assert.equal(repro.signature, f.signature);
    const on = runProgram(repro.program, { bugs: new Set(['mkwrite-ifs-zeroed']) });
    assert.equal(on.violation?.signature, f.signature);
    const off = runProgram(repro.program);
    assert.equal(off.violation, null, 'clean with the switch off');
    assert.ok(s.corpus > 0 && s.coverage > 0);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});

test('with every switch off a campaign of 3,000 executions finds nothing', async () => {
  // One worker: its programs are a function of the seed (two workers share inputs in timing order).
  const s = await runCampaign({ bugs: [], workers: 1, seed: 5, maxExecs: 3000, feedback: true });
  assert.deepEqual(s.findings, []);
  assert.equal(s.harnessErrors, 0);
  assert.ok(s.execs >= 3000);
});

test('foliofuzz fuzz --json prints one document with the contract fields', () => {
  const store = tempStore();
  try {
    const r = spawnSync(process.execPath, [CLI, 'fuzz', '--bugs', 'set-uptodate-during-read', '--workers', '1', '--seed', '3',
      '--max-execs', '4000', '--until-found', '1', '--store', store, '--json'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'one JSON document');
    const doc = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doc), ['execs', 'execsPerSec', 'durationSec', 'corpus', 'coverage', 'findings']);
    const findings = doc['findings'] as Record<string, unknown>[];
    assert.equal(findings.length, 1);
    assert.deepEqual(Object.keys(findings[0]!), ['signature', 'count', 'firstFoundSec', 'firstFoundExec', 'opsBefore', 'opsAfter', 'repro', 'switches']);
    assert.match(String(findings[0]!['signature']), /folio_end_read:already-uptodate/);
    // Its minimization found the switch it needs, and the reproducer carries it alone.
    assert.deepEqual(findings[0]!['switches'], ['set-uptodate-during-read']);
    assert.ok(existsSync(String(findings[0]!['repro'])));
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});

test('fuzz refuses bad flags with a message and exit 2', () => {
  for (const args of [['--workers', 'x'], ['--bugs', 'no-such-switch'], ['--schedule', 'replay']]) {
    const r = spawnSync(process.execPath, [CLI, 'fuzz', ...args, '--max-execs', '1'], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--(workers|bugs|schedule)/);
  }
});

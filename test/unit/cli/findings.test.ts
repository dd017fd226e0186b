// After a campaign, the next step: `fuzz` ends with its findings, what each
// class means, which are the seeded bugs and the commands that come next;
// `foliofuzz findings` lists a store; runs without --store are kept apart
// (foliofuzz-store/run-<n>), and a --store holding an earlier run is refused
// unless --append says to add to it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { progressLine } from '../../../worker/cli/fuzz.js';
import { findingId } from '../../../worker/report/signature.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'worker', 'cli', 'main.js');
const CLUSTER_STORE = join(ROOT, 'test', 'fixtures', 'findings', 'cluster');
const EMBEDDED_STORE = join(ROOT, 'test', 'fixtures', 'findings', 'embedded');
const cwd = mkdtempSync(join(tmpdir(), 'ff-findings-cli-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FIND = ['fuzz', '--bugs', 'set-uptodate-during-read', '--workers', '1', '--seed', '3', '--until-found', '1', '--max-execs', '4000'];

test('fuzz without --store keeps each run apart and ends with its findings, their meaning and the next steps', () => {
  const r = cli(FIND);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(cwd, 'foliofuzz-store', 'run-1', 'campaign.json')));
  assert.match(r.stderr, /Findings of foliofuzz-store\/run-1 \(embedded campaign; seed 3; switches: set-uptodate-during-read;/);
  assert.match(r.stderr, / {2}1\. BUG folio_end_read:already-uptodate @ folio_end_read\n/);
  assert.match(r.stderr, /needs set-uptodate-during-read \(seeded bug, iomap, 2025\)/);
  assert.match(r.stderr, /What the classes mean:\n {2}BUG {7}a BUG_ON the kernel has at this site fired/);
  assert.match(r.stderr, /The finding comes from bugs the switches put back on purpose: the seeded bugs/);
  assert.match(r.stderr, /Next steps[^\n]*\n {2}foliofuzz replay REPRO +run it again/);
  assert.match(r.stderr, /foliofuzz export REPRO --format report/);
  assert.match(r.stderr, /foliofuzz kernel confirm REPRO +does this machine's kernel have it\?/);
  const again = cli(['fuzz', '--workers', '1', '--seed', '4', '--max-execs', '20', '--no-minimize']);
  assert.equal(again.status, 0, again.stderr);
  assert.ok(existsSync(join(cwd, 'foliofuzz-store', 'run-2')), 'the next run has a directory of its own');
});

test('a --store holding an earlier run is refused unless --append', () => {
  const store = join('foliofuzz-store', 'run-1');
  const refused = cli(['fuzz', '--store', store, '--workers', '1', '--max-execs', '20']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /holds an earlier run[\s\S]*--append/);
  const appended = cli(['fuzz', '--store', store, '--append', '--workers', '1', '--max-execs', '20', '--no-minimize']);
  assert.equal(appended.status, 0, appended.stderr);
});

test('foliofuzz findings lists every run of the default store; --json has what the listing says', () => {
  const r = cli(['findings']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Findings of foliofuzz-store\/run-1 /);
  assert.match(r.stdout, /Findings of foliofuzz-store\/run-2 [^\n]*\n {2}none/);
  const doc = JSON.parse(cli(['findings', '--json']).stdout) as { runs: { id: string; findings: Record<string, unknown>[] }[] };
  assert.deepEqual(doc.runs.map((x) => x.id), ['run-1', 'run-2']);
  const f = doc.runs[0]!.findings[0]!;
  assert.equal(f['kind'], 'BUG');
  assert.match(String(f['meaning']), /BUG_ON/);
  assert.deepEqual(f['switchesNeeded'], ['set-uptodate-during-read']);
  assert.equal(f['crossCheck'], 'reported without a cross-check (one process)');
  assert.ok(existsSync(join(cwd, String(f['repro']))));
});

test('findings of a coordinator store: cross-checked ones listed, the others counted as waiting', () => {
  const r = cli(['findings', '--store', CLUSTER_STORE]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cluster campaign/);
  assert.match(r.stdout, /cross-checked on w-host-2-0002 \(found by w-host-1-0001\)/);
  assert.equal(cli(['findings', '--store', join(cwd, 'nothing-here')]).status, 2);
});

test('findings that are one bug are listed once: old signatures of one site, and a bug met by several runs', () => {
  // Two runs of a store written before signature format 2; the second also
  // has the WARN reached from another caller, which format 1 named apart.
  const store = join(cwd, 'old-store');
  cpSync(EMBEDDED_STORE, join(store, 'run-1'), { recursive: true });
  cpSync(EMBEDDED_STORE, join(store, 'run-2'), { recursive: true });
  const other = 'WARN ifs_free:uptodate-mismatch @ ifs_free<-shrink_folio_list';
  const dir = join(store, 'run-2', 'findings', findingId(other));
  mkdirSync(dir);
  const rec = JSON.parse(readFileSync(join(store, 'run-2', 'findings', '290a8c9ea88e', 'finding.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'finding.json'), JSON.stringify({ ...rec, signature: other, count: 5 }));
  cpSync(join(store, 'run-2', 'findings', '290a8c9ea88e', 'first.json'), join(dir, 'first.json'));
  const r = cli(['findings', '--store', store]);
  assert.equal(r.status, 0, r.stderr);
  const run2 = r.stdout.slice(r.stdout.lastIndexOf('Findings of '));
  assert.match(run2, / {2}1\. WARN ifs_free:uptodate-mismatch @ ifs_free\n {5}one bug under 2 signatures: WARN ifs_free:uptodate-mismatch @ ifs_free<-truncate_inode_pages_range; WARN ifs_free:uptodate-mismatch @ ifs_free<-shrink_folio_list\n {5}\(signature format 1: the callers are part of it; this build keys it by its function\)\n {5}2,923 hits, /);
  assert.match(r.stdout, /One bug, several runs \(equal signatures are one bug\):\n {2}WARN ifs_free:uptodate-mismatch @ ifs_free: runs run-1, run-2; /);
  const doc = JSON.parse(cli(['findings', '--store', store, '--json']).stdout) as { bugs: { bug: string; signatures: string[]; runs: string[]; hits: number }[] };
  const bug = doc.bugs.find((b) => b.bug === 'WARN ifs_free:uptodate-mismatch @ ifs_free')!;
  assert.deepEqual([bug.signatures.length, bug.runs, bug.hits], [2, ['run-1', 'run-2'], 2918 * 2 + 5]);
  assert.equal(doc.bugs.length, 2, 'the WARN and the BUG');
});

test('the progress line says how far into the duration it is', () => {
  const s = { execs: 1200, execsPerSec: 130.4, durationSec: 12.2, corpus: 40, coverage: 900, findings: 2, harnessErrors: 0, timeouts: 0 };
  assert.equal(progressLine(s, 300), 'execs 1200  130/s  corpus 40  coverage 900  findings 2  12 of 300 s');
  assert.equal(progressLine(s), 'execs 1200  130/s  corpus 40  coverage 900  findings 2  12 s');
});

test('export of a stored reproducer quotes the kernel verdict its finding.json holds, and refuses a malformed one, naming it', () => {
  const dir = join(cwd, 'verdict-store', 'findings', '0123456789ab');
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, 'corpus', 'known', 'set-uptodate-during-read.json'), join(dir, 'repro.json'));
  const kernel = {
    verdict: 'not-reproduced', text: 'not reproduced in 100 runs on Linux 6.18.44 (xfs, 4096-byte blocks)', release: '6.18.44',
    fs: 'xfs, 4096-byte blocks', runs: 100, hits: 0, signature: null, detail: null, log: [], at: '2026-12-07T00:00:00.000Z',
  };
  writeFileSync(join(dir, 'finding.json'), JSON.stringify({ signature: 'BUG folio_end_read:already-uptodate @ folio_end_read', kernel }));
  const r = cli(['export', join(dir, 'repro.json'), '--format', 'report']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\nNot seen on Linux 6\.18\.44 \(xfs, 4096-byte blocks\) in 100 runs of the reproducer below \(2026-12-07\)/);
  writeFileSync(join(dir, 'finding.json'), JSON.stringify({ kernel: { ...kernel, hits: 101 } }));
  const bad = cli(['export', join(dir, 'repro.json'), '--format', 'report']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /finding\.json: kernel\.hits: more than its 100 runs/);
});

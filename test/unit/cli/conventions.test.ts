// The command line as a user meets it: usage errors exit 2 in every command
// (1 means "a violation was found"), --version, --help with examples and the
// exit codes; a reproducer runs under exec with its switches; a clean bare
// program is no dead end for replay and minimize.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../../worker/exec/run.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { makeRepro, reproJson } from '../../../worker/repro/repro.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'worker', 'cli', 'main.js');
const KNOWN = join(ROOT, 'corpus', 'known', 'set-uptodate-during-read.json');
const SIG = 'BUG folio_end_read:already-uptodate @ folio_end_read';

function cli(args: string[], cwd = ROOT): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('every usage error exits 2, whatever the command', () => {
  const cases = [
    ['exec', '--frobnicate'], ['replay'], ['fuzz', '--frob'], ['bugs', '--frob'], ['minimize'], ['export'], ['findings', '--frob'],
    ['dashboard', '--frob'], ['import', '--frob'], ['frob'], ['ctl', '--frob'], ['export', KNOWN, '--format', 'nope'],
  ];
  for (const args of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, `${args.join(' ')} says why`);
  }
});

for (const flag of ['--kernel-confirm', '--kernel']) {
  test(`worker ${flag} refuses to start where it could not run the kernel twin (no root, or no native executor), saying which`, () => {
    const r = spawnSync(process.execPath, [CLI, 'worker', '--nats', 'nats://127.0.0.1:1', flag], {
      encoding: 'utf8', timeout: 30_000, env: { ...process.env, FOLIOFUZZ_EXEC: '/nonexistent/foliofuzz-exec' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, process.getuid?.() === 0
      ? new RegExp(`^${flag}: the kernel twin's native executor is missing \\(/nonexistent/foliofuzz-exec\\): .*apt-get install gcc`)
      : new RegExp(`^${flag}: .*needs root`));
  });
}

test('--version names the package and the simulator version', () => {
  const r = cli(['--version']);
  assert.equal(r.status, 0);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.match(r.stdout, new RegExp(`^foliofuzz ${pkg.version.replace(/\./g, '\\.')} \\(foliofuzz-sim/\\d+, node v`));
});

test('--help gives examples and exit codes (exec lists exit 3)', () => {
  for (const c of ['exec', 'fuzz', 'replay', 'minimize', 'export', 'findings', 'dashboard', 'import', 'bugs']) {
    const r = cli([c, '--help']);
    assert.equal(r.status, 0, c);
    assert.match(r.stdout, /Examples:\n {2}foliofuzz /, `${c} has examples`);
    assert.match(r.stdout, /Exit codes:\n {2}0 /, `${c} has exit codes`);
  }
  assert.match(cli(['exec', '--help']).stdout, / {2}3 {2}harness error/);
});

test('exec takes a reproducer and runs it with its switches; --bugs overrides them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-cli-'));
  try {
    const program = validateProgram(JSON.parse(readFileSync(KNOWN, 'utf8')), KNOWN);
    const v = runProgram(program, { bugs: new Set(['set-uptodate-during-read']) }).violation;
    const path = join(dir, 'repro.json');
    writeFileSync(path, reproJson(makeRepro(program, ['set-uptodate-during-read'], v)));
    const r = cli(['exec', path]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`signature: ${SIG.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`));
    assert.match(r.stderr, /its switches are on \(set-uptodate-during-read\)/);
    assert.equal(cli(['exec', path, '--bugs', '']).status, 0, 'no switch: clean');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replay and minimize of a clean bare program say which switches make it fire', () => {
  const replay = cli(['replay', KNOWN]);
  assert.equal(replay.status, 0);
  assert.match(replay.stdout, /clean: no violation/);
  assert.match(replay.stderr, /with --bugs set-uptodate-during-read it shows BUG folio_end_read:already-uptodate/);
  assert.match(replay.stderr, /foliofuzz replay .*set-uptodate-during-read\.json --bugs set-uptodate-during-read/);
  const min = cli(['minimize', KNOWN]);
  assert.equal(min.status, 2);
  assert.match(min.stderr, /does not reproduce/);
  assert.match(min.stderr, /foliofuzz minimize .* --bugs set-uptodate-during-read/);
});

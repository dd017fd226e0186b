// kernel confirm on this machine's kernel: the two bugs the fuzzer found in
// mainline reproduce; the reproducers of bugs fixed long ago and the sim's
// own false positives (corpus/regress) never do; what the twin cannot run it
// says so. Verdicts depend on the kernel: the manifest says on which
// releases each kernel bug was seen (corpus/known/manifest.json, `kernel`).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FAULT_OPS } from '../../worker/prog/ops.js';
import { validateProgram } from '../../worker/prog/validate.js';
import type { Program } from '../../worker/prog/types.js';
import type { KernelVerdict } from '../../worker/report/kernel-verdict.js';
import { parseRepro } from '../../worker/repro/repro.js';
import { confirmOnKernel } from '../../worker/twin/confirm.js';
import { type TwinMount, describeSpec } from '../../worker/twin/provision.js';
import { provisionIn, removeParent, testParent } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'worker', 'cli', 'main.js');

interface ManifestEntry {
  switch: string;
  program: string;
  /** A bug of mainline the fuzzer found: the releases (prefixes of uname -r) it was seen on. */
  kernel?: { reproducesOn: string[]; configs?: Partial<Program['config']>[] };
}

const MANIFEST = JSON.parse(readFileSync(join(ROOT, 'corpus', 'known', 'manifest.json'), 'utf8')) as ManifestEntry[];

function known(e: ManifestEntry): Program {
  const path = join(ROOT, 'corpus', 'known', e.program);
  return validateProgram(JSON.parse(readFileSync(path, 'utf8')), path);
}

function regress(): { name: string; program: Program }[] {
  const dir = join(ROOT, 'corpus', 'regress');
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => ({
    name: `regress/${f}`, program: parseRepro(readFileSync(join(dir, f), 'utf8'), f).program,
  }));
}

describe('the kernel bugs the fuzzer found', () => {
  for (const e of MANIFEST.filter((x) => x.kernel)) {
    for (const config of e.kernel!.configs ?? [{}]) {
      const p0 = known(e);
      const program = { ...p0, config: { ...p0.config, ...config } };
      test(`${e.switch} on ${describeSpec(program.config)}: reproduces within 1,000 runs where it was seen`, async (t) => {
        const v = await confirmOnKernel(program, { runs: 1000, untilHits: 1 });
        assert.notEqual(v.verdict, 'cannot-run', v.text);
        const seen = e.kernel!.reproducesOn.some((r) => v.release?.startsWith(r));
        if (seen) assert.equal(v.verdict, 'reproduces', v.text);
        else {
          // Another kernel: whatever it says is news, stated plainly, not a failure nobody understands.
          t.diagnostic(`Linux ${v.release}: ${v.text}. ${e.switch} was seen on ${e.kernel!.reproducesOn.join(', ')}; ` +
            `if this kernel has the fix, "not reproduced" is its verdict: add the release to corpus/known/manifest.json only where it reproduces.`);
        }
      });
    }
  }
});

describe('reproducers of fixed bugs and the sim\'s false positives never reproduce', () => {
  const programs = [
    ...MANIFEST.filter((e) => !e.kernel).map((e) => ({ name: `known/${e.program}`, program: known(e) })),
    ...regress(),
  ];
  let parent = '';
  const mounts = new Map<string, TwinMount>();
  before(() => {
    parent = testParent();
  });
  after(() => {
    for (const m of mounts.values()) m.release();
    removeParent(parent);
  });
  /** One mount per filesystem config, shared by the programs that name it. */
  function mountFor(p: Program): TwinMount {
    const key = describeSpec(p.config);
    let m = mounts.get(key);
    if (!m) mounts.set(key, (m = provisionIn(parent, p.config)));
    return m;
  }
  test(`every one of them, 10 runs each: not reproduced; with an injected fault, cannot run here`, async () => {
    for (const { name, program } of programs) {
      const faults = program.threads.some((t) => t.ops.some((o) => FAULT_OPS.has(o.op)));
      const v: KernelVerdict = await confirmOnKernel(program, { runs: 10, ...(faults ? {} : { mount: mountFor(program) }) });
      if (faults) assert.match(v.text, /^cannot run here: needs fault injection \((fail_bio|power_cut)\)/, name);
      else assert.equal(v.text, `not reproduced in 10 runs on Linux ${v.release} (${describeSpec(program.config)})`, name);
    }
  });
});

describe('foliofuzz kernel confirm', () => {
  let parent = '';
  before(() => {
    parent = testParent();
  });
  after(() => removeParent(parent));

  function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, 'kernel', 'confirm', ...args], { encoding: 'utf8', cwd: parent });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('a reproducer in a store: exit 1, the verdict in words, recorded in its finding.json, and quoted by its bug report', () => {
    const dir = join(parent, 'store', 'findings', '0123456789ab');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(ROOT, 'corpus', 'known', 'dio-extend-no-isize-extended.json'), join(dir, 'repro.json'));
    writeFileSync(join(dir, 'finding.json'), JSON.stringify({ signature: 'DATA pread:mismatch @ ksys_pread64' }));
    const report = join(parent, 'report.txt');
    const r = cli([join(dir, 'repro.json'), '--runs', '5', '--report', report]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^reproduces 5\/5 on Linux \S+ \(ext4 with indirect-block inodes, 1024-byte blocks\): DATA mismatch write <- zeroes @ ksys_pread64: t0 #5 pread fd=1 off=0 len=8192: byte 5120 is 0x00, a fixed kernel reads 0x05; byte 5120: stored by t0 #4 mwrite, read 0x00\n/);
    const rec = JSON.parse(readFileSync(join(dir, 'finding.json'), 'utf8')) as { kernel: KernelVerdict; signature: string };
    assert.equal(rec.kernel.verdict, 'reproduces');
    assert.equal(rec.kernel.hits, 5);
    assert.equal(rec.signature, 'DATA pread:mismatch @ ksys_pread64', 'the rest of the record is kept');
    const seen = new RegExp(`\\nSeen on Linux ${rec.kernel.release!.replace(/[.+]/g, '\\$&')} \\(ext4 with indirect-block inodes, 1024-byte blocks\\): the reproducer below showed it in 5 of 5 runs\\n`);
    assert.match(readFileSync(report, 'utf8'), seen, '--report');
    // `export` of the stored reproducer reads the verdict from its finding.json.
    const exported = spawnSync(process.execPath, [CLI, 'export', join(dir, 'repro.json'), '--format', 'report'], { encoding: 'utf8', cwd: parent });
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, seen, 'export --format report');
  });

  test('a malformed finding.json beside the reproducer: the verdict is printed, and why it was not recorded', () => {
    const dir = join(parent, 'bad-store', 'findings', '0123456789ab');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(ROOT, 'corpus', 'known', 'zero-range-hole-flush.json'), join(dir, 'repro.json'));
    writeFileSync(join(dir, 'finding.json'), '{ not json');
    const r = cli([join(dir, 'repro.json'), '--runs', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^not reproduced in 2 runs on Linux /);
    assert.match(r.stderr, /not recorded: \S*finding\.json: invalid JSON/);
    assert.equal(readFileSync(join(dir, 'finding.json'), 'utf8'), '{ not json', 'left as it was');
  });

  test('--json: not reproduced is exit 0; a program with fail_bio cannot run here (exit 3)', () => {
    const clean = cli([join(ROOT, 'corpus', 'known', 'zero-range-hole-flush.json'), '--runs', '3', '--json']);
    assert.equal(clean.status, 0, clean.stderr);
    const v = JSON.parse(clean.stdout) as KernelVerdict;
    assert.equal(v.verdict, 'not-reproduced');
    assert.equal(v.runs, 3);
    assert.match(v.text, /^not reproduced in 3 runs on Linux \S+ \(ext4, 1024-byte blocks\)$/);
    const fault = cli([join(ROOT, 'corpus', 'known', 'errseq-report-once-global.json')]);
    assert.equal(fault.status, 3);
    assert.match(fault.stdout, /^cannot run here: needs fault injection \(fail_bio\)/);
  });

  test('fuzz --kernel-confirm: a campaign confirms each minimized finding on the kernel and keeps the verdict', () => {
    const store = join(parent, 'campaign');
    const r = spawnSync(process.execPath, [CLI, 'fuzz', '--bugs', 'dio-extend-no-isize-extended', '--until-found', '1', '--kernel-confirm', '10',
      '--workers', '1', '--seed', '3', '--store', store, '--json'], { encoding: 'utf8', cwd: parent, timeout: 240_000 });
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { findings: { repro: string }[] };
    assert.equal(summary.findings.length, 1);
    const repro = summary.findings[0]!.repro;
    const rec = JSON.parse(readFileSync(join(dirname(repro), 'finding.json'), 'utf8')) as { kernel?: KernelVerdict; minimized: boolean };
    assert.equal(rec.minimized, true);
    // Which config the seed's campaign meets the bug on is the generator's
    // business; the verdict is this kernel's: 6.18 loses the store on ext4
    // with blocks smaller than the page, and xfs (its zero-EOF flush) or
    // ext4 4 KiB keep it.
    const { config } = parseRepro(readFileSync(repro, 'utf8'), repro).program;
    const lost = config.fs === 'ext4' && config.blockSize < 4096;
    assert.equal(rec.kernel?.verdict, lost ? 'reproduces' : 'not-reproduced', `${config.fs}:${config.blockSize}: ${rec.kernel?.text}`);
    assert.equal(rec.kernel.runs, 10);
  });

  test('--keep leaves the mount, and says how to remove it', () => {
    const env = { ...process.env, TMPDIR: parent };
    const r = spawnSync(process.execPath, [CLI, 'kernel', 'confirm', join(ROOT, 'corpus', 'known', 'zero-range-hole-flush.json'), '--runs', '1', '--keep'], { encoding: 'utf8', cwd: parent, env });
    assert.equal(r.status, 0, r.stderr);
    const m = /kept: (\S+), the filesystem as the runs left it; to remove it: (umount \S+); (losetup -d \S+); (rm -r \S+) \(/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.ok(readFileSync('/proc/mounts', 'utf8').includes(` ${m[1]!} ext4 `), 'still mounted');
    for (const step of [m[2]!, m[3]!, m[4]!]) assert.equal(spawnSync('sh', ['-c', step]).status, 0, step);
  });

  test('--dir on the wrong filesystem is refused, saying what to make; bad input is exit 2', () => {
    const wrong = cli([join(ROOT, 'corpus', 'known', 'zero-range-hole-flush.json'), '--dir', parent]);
    assert.equal(wrong.status, 3, wrong.stdout + wrong.stderr);
    assert.match(wrong.stdout, /^cannot run here: .*mkfs\.ext4/);
    const bad = cli([join(parent, 'nothing.json')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /nothing\.json: cannot read: ENOENT/);
    const runs = cli([join(ROOT, 'corpus', 'known', 'zero-range-hole-flush.json'), '--runs', '0']);
    assert.equal(runs.status, 2);
    assert.match(runs.stderr, /--runs: '0' is not an integer in \[1, 1000000\]/);
  });
});

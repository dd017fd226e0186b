// Differential test: the same xfs_io script run by the real xfs_io on the host
// (an ext4 file in os.tmpdir(), 4 KiB blocks) and by the simulator
// (parseXfsIoScript + runProgram, in process) must leave byte-identical files,
// and the simulator must report no invariant violation.
//
// 480 seeded scripts of 40-200 commands: every (profile, filesystem, block size,
// folio size) combination twice. Besides the final contents, every command must
// fail (or succeed) as it did for the real xfs_io. A few more cases go through
// the real CLI to test its contract (exit codes, --dump-dir, FILE:LINE messages).
// (One file: the seeded matrix and its failure reporting share the helpers
// that save and minimize a diverging script.)
//
// On a failure the message gives the seed, profile and config, the first
// differing offset, and where the script (and a minimized version) was saved,
// with the command line that replays it: `foliofuzz exec --xfs-io FILE ...`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { runProgram } from '../../worker/exec/run.js';
import { describeOp } from '../../worker/prog/describe.js';
import { ProgramInputError } from '../../worker/prog/errors.js';
import type { SimConfig } from '../../worker/prog/types.js';
import { parseXfsIoScript } from '../../worker/prog/xfs-io.js';
import { createLimiter, runRealXfsIo, runRealXfsIoSync, type RealRunResult } from './real-xfs-io.js';
import {
  ALIGN,
  configFlags,
  describeConfig,
  generateScript,
  MAX_OFFSET,
  MAX_SIZE_AFTER_INSERT,
  PROFILES,
  type GeneratedScript,
  type Profile,
} from './script-gen.js';
import { supportedFallocModes } from './config-support.js';

const CLI = fileURLToPath(new URL('../../worker/cli/main.js', import.meta.url));

// ---------------------------------------------------------------------------
// The cases

interface Case {
  index: number;
  seed: number;
  profile: Profile;
  config: SimConfig;
  gen: GeneratedScript;
}

type FsFamily = { fs: SimConfig['fs']; inode: SimConfig['inode'] };
const FS_FAMILIES: readonly FsFamily[] = [
  { fs: 'ext4', inode: 'extent' },
  { fs: 'ext4', inode: 'indirect' },
  { fs: 'xfs', inode: 'extent' },
  { fs: 'fuse', inode: 'extent' },
];
const BLOCK_SIZES = [1024, 2048, 4096] as const;
const FOLIO_SIZES = [4096, 8192, 16384, 32768, 65536] as const;
/** Environment knobs for longer exploratory runs (the default suite uses the defaults). */
function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${v}: want a non-negative integer`);
  return n;
}
/** Seed of case 0 (case i uses BASE_SEED + i): FOLIOFUZZ_DIFF_SEED. */
const BASE_SEED = envInt('FOLIOFUZZ_DIFF_SEED', 0x5eed0000);

/** Each (profile, fs, block size, folio size) combination gets this many scripts: FOLIOFUZZ_DIFF_ROUNDS. */
const ROUNDS = Math.max(1, envInt('FOLIOFUZZ_DIFF_ROUNDS', 2));

/** (profile x fs x block size) = 48 combinations, each run with all 5 folio sizes, ROUNDS times: 480 cases. */
function buildCases(): Case[] {
  const combos = PROFILES.length * FS_FAMILIES.length * BLOCK_SIZES.length;
  const cases: Case[] = [];
  for (let index = 0; index < combos * FOLIO_SIZES.length * ROUNDS; index++) {
    const c = index % combos;
    const rep = Math.floor(index / combos);
    const profile = PROFILES[c % PROFILES.length] as Profile;
    const fam = FS_FAMILIES[Math.floor(c / PROFILES.length) % FS_FAMILIES.length] as FsFamily;
    const blockSize = BLOCK_SIZES[Math.floor(c / (PROFILES.length * FS_FAMILIES.length))] as number;
    const folioMax = FOLIO_SIZES[(rep + c) % FOLIO_SIZES.length] as number;
    const config: SimConfig = { fs: fam.fs, inode: fam.inode, blockSize, folioMax };
    const seed = BASE_SEED + index;
    cases.push({ index, seed, profile, config, gen: generateScript({ seed, profile, config }) });
  }
  return cases;
}

const CASES = buildCases();

// Real xfs_io runs go four at a time, a window ahead of the case being checked,
// so that they overlap the (synchronous) sim runs without holding every result.
type Settled = { ok: true; value: RealRunResult } | { ok: false; error: unknown };
const REAL_CONCURRENCY = 4;
const REAL_WINDOW = 16;
const limitReal = createLimiter(REAL_CONCURRENCY);

function startReal(gen: GeneratedScript): Promise<Settled> {
  return limitReal(() => runRealXfsIo(gen.text, { direct: gen.direct })).then(
    (value): Settled => ({ ok: true, value }),
    (error: unknown): Settled => ({ ok: false, error }),
  );
}

const realRuns = new Map<number, Promise<Settled>>();
let nextRealToStart = 0;

/** The real run of a case (starting it and the next REAL_WINDOW ones if need be); each case takes it once. */
async function takeRealResult(c: Case): Promise<RealRunResult> {
  while (nextRealToStart < CASES.length && nextRealToStart <= c.index + REAL_WINDOW) {
    const next = CASES[nextRealToStart++] as Case;
    realRuns.set(next.index, startReal(next.gen));
  }
  const p = realRuns.get(c.index) ?? startReal(c.gen);
  realRuns.delete(c.index);
  const s = await p;
  if (!s.ok) throw s.error;
  return s.value;
}

// ---------------------------------------------------------------------------
// Running the sim and comparing

type Outcome =
  | { kind: 'ok'; simSize: number }
  | { kind: 'errors'; index: number; real: string[]; sim: string[] }
  | { kind: 'mismatch'; offset: number; realSize: number; simSize: number; realByte?: number; simByte?: number }
  | { kind: 'violation'; signature: string; invariant: string; message: string }
  | { kind: 'crash'; error: string }
  | { kind: 'input-error'; error: string };

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** glibc's strerror() for the errnos the sim returns. */
const STRERROR: Record<number, string> = {
  1: 'Operation not permitted', 2: 'No such file or directory', 5: 'Input/output error',
  9: 'Bad file descriptor', 11: 'Resource temporarily unavailable', 12: 'Cannot allocate memory',
  14: 'Bad address', 15: 'Block device required', 16: 'Device or resource busy', 22: 'Invalid argument',
  27: 'File too large', 28: 'No space left on device', 30: 'Read-only file system',
  38: 'Function not implemented', 95: 'Operation not supported',
};

/** The name xfs_io passes to perror() when the syscall behind an op fails. */
const PERROR_NAME: Record<string, string> = {
  pwrite: 'pwrite', pread: 'pread', truncate: 'ftruncate', fallocate: 'fallocate', fsync: 'fsync',
  fdatasync: 'fdatasync', sync_file_range: 'sync_file_range', fadvise_dontneed: 'fadvise',
  mmap: 'mmap', msync: 'msync', munmap: 'munmap', copy_range: 'copy_range',
  // a failed load/store is SIGBUS/SIGSEGV for the real xfs_io: never a message
  mread: 'mread (SIGBUS)', mwrite: 'mwrite (SIGBUS)',
};

/** The failed syscalls in xfs_io's stderr, in order ("fallocate: Invalid argument"). */
function realErrors(stderr: string): string[] {
  const names = new Set(Object.values(PERROR_NAME));
  return stderr.split('\n').filter((l) => names.has(l.split(':')[0] ?? ''));
}

function runSim(text: string, source: string, direct: boolean, config: SimConfig, realRun: { data: Uint8Array; stderr: string }): Outcome {
  const real = realRun.data;
  let program;
  try {
    program = parseXfsIoScript(text, source, { direct, config });
  } catch (e) {
    if (e instanceof ProgramInputError) return { kind: 'input-error', error: e.message };
    return { kind: 'crash', error: `parseXfsIoScript threw: ${(e as Error)?.stack ?? String(e)}` };
  }
  let result;
  try {
    result = runProgram(program);
  } catch (e) {
    return { kind: 'crash', error: `runProgram threw: ${(e as Error)?.stack ?? String(e)}` };
  }
  if (result.harnessError) return { kind: 'crash', error: `harness error: ${result.harnessError}` };
  if (result.violation) {
    const v = result.violation;
    return { kind: 'violation', signature: v.signature, invariant: v.invariant, message: v.message };
  }
  const file = result.files.find((f) => f.name === 'file0') ?? result.files[0];
  if (!file) return { kind: 'crash', error: 'runProgram returned no files' };
  const offset = firstDifference(real, file.data);
  if (offset < 0) {
    // Every command must also fail (or not) as it did for the real xfs_io.
    const ops = program.threads[0]?.ops ?? [];
    const failed = result.results.filter((r) => r.thread === 0 && r.ret < 0);
    const sim = failed.map((r) => `${PERROR_NAME[ops[r.index]?.op ?? ''] ?? ops[r.index]?.op}: ${STRERROR[-r.ret] ?? `errno ${-r.ret}`}`);
    const realErr = realErrors(realRun.stderr);
    let i = 0;
    while (i < sim.length && i < realErr.length && sim[i] === realErr[i]) i++;
    if (i < sim.length || i < realErr.length) {
      const where = (k: number): string => {
        const r = failed[k];
        const op = r === undefined ? undefined : ops[r.index];
        return r === undefined || op === undefined ? '' : ` (op #${r.index}: ${describeOp(op)})`;
      };
      return {
        kind: 'errors',
        index: i,
        real: realErr,
        sim: sim.map((x, k) => x + where(k)),
      };
    }
    return { kind: 'ok', simSize: file.data.length };
  }
  const out: Outcome = { kind: 'mismatch', offset, realSize: real.length, simSize: file.data.length };
  if (offset < real.length) out.realByte = real[offset] as number;
  if (offset < file.data.length) out.simByte = file.data[offset] as number;
  return out;
}

function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'ok':
      return 'identical';
    case 'mismatch': {
      const hex = (b: number | undefined): string => (b === undefined ? 'EOF' : `0x${b.toString(16).padStart(2, '0')}`);
      return (
        `contents differ at offset ${o.offset} (real byte ${hex(o.realByte)}, sim byte ${hex(o.simByte)}; ` +
        `real size ${o.realSize}, sim size ${o.simSize})`
      );
    }
    case 'errors':
      return (
        `same final contents, but the commands failed differently: failure #${o.index} is ` +
        `real "${o.real[o.index] ?? '(none)'}" vs sim "${o.sim[o.index] ?? '(none)'}"; ` +
        `real failures: [${o.real.join('; ')}]; sim failures: [${o.sim.join('; ')}]`
      );
    case 'violation':
      return `sim reported a violation: signature ${o.signature} (${o.invariant}): ${o.message}`;
    case 'crash':
      return `sim crashed: ${o.error}`;
    case 'input-error':
      return `parseXfsIoScript rejected the script: ${o.error}`;
  }
}

/** Same kind of failure (for minimization). */
function sameFailure(a: Outcome, b: Outcome): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'violation' && b.kind === 'violation') return a.signature === b.signature;
  if (a.kind === 'crash' && b.kind === 'crash') return firstLine(a.error) === firstLine(b.error);
  return a.kind === 'mismatch';
}

const firstLine = (s: string): string => s.split('\n')[0] ?? '';

// ---------------------------------------------------------------------------
// Saving and minimizing failures

const FAIL_DIR = join(tmpdir(), 'foliofuzz-differential');
/** Total time spent minimizing failing scripts, across the run. */
let minimizeBudgetMs = 60_000;

function saveScript(name: string, text: string): string {
  mkdirSync(FAIL_DIR, { recursive: true });
  const p = join(FAIL_DIR, name);
  writeFileSync(p, text);
  return p;
}

/** ddmin-style: drop chunks of commands while the failure stays the same. */
function minimize(c: Case, lines: string[], failure: Outcome, budgetMs: number): string[] {
  const deadline = Date.now() + budgetMs;
  const stillFails = (cand: string[]): boolean => {
    const text = cand.join('\n') + '\n';
    let real: RealRunResult;
    try {
      real = runRealXfsIoSync(text, { direct: c.gen.direct });
    } catch {
      return false; // e.g. SIGBUS once a truncate-up was removed: not a valid reduction
    }
    return sameFailure(runSim(text, 'minimize.xfs-io', c.gen.direct, c.config, real), failure);
  };
  let cur = lines;
  let n = 2;
  while (cur.length >= 2 && Date.now() < deadline) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let start = 0; start < cur.length && Date.now() < deadline; start += chunk) {
      const cand = [...cur.slice(0, start), ...cur.slice(start + chunk)];
      if (cand.length > 0 && stillFails(cand)) {
        cur = cand;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  return cur;
}

function failureReport(c: Case, o: Outcome): string {
  const base = `seed-${c.seed}-${c.profile}-${describeConfig(c.config).replace(/\//g, '-')}`;
  const full = saveScript(`${base}.xfs-io`, c.gen.text);
  const flags = configFlags(c.config, c.gen.direct).join(' ');
  const lines = [
    `seed ${c.seed} (case #${c.index}), profile ${c.profile}, config ${describeConfig(c.config)}${c.gen.direct ? ' --direct' : ''}:`,
    `  ${describeOutcome(o)}`,
    `  script (${c.gen.commands.length} commands): ${full}`,
    `  replay: node dist/worker/cli/main.js exec --xfs-io ${full} ${flags} --dump-dir /tmp/out   (real: xfs_io -f${c.gen.direct ? ' -d' : ''} FILE < ${full})`,
  ];
  if (o.kind !== 'input-error' && minimizeBudgetMs > 0) {
    const t0 = Date.now();
    const min = minimize(c, c.gen.commands, o, Math.min(20_000, minimizeBudgetMs));
    minimizeBudgetMs -= Date.now() - t0;
    if (min.length < c.gen.commands.length) {
      const minText = min.join('\n') + '\n';
      const minPath = saveScript(`${base}.min.xfs-io`, minText);
      const real = runRealXfsIoSync(minText, { direct: c.gen.direct });
      const mo = runSim(minText, minPath, c.gen.direct, c.config, real);
      lines.push(`  minimized to ${min.length} commands: ${minPath} (${describeOutcome(mo)})`);
      if (min.length <= 40) lines.push(...min.map((l) => `    ${l}`));
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Generator self-checks

/** Numbers in a command (flags' values included). */
function numbersOf(cmd: string): number[] {
  return cmd
    .split(/\s+/)
    .filter((w) => /^(0x[0-9a-f]+|\d+)$/i.test(w))
    .map((w) => Number(w));
}

describe('script generator', () => {
  it('is deterministic in its seed, varies with it, and emits 40-200 commands', () => {
    for (const profile of PROFILES) {
      for (let seed = 0; seed < 50; seed++) {
        const a = generateScript({ seed, profile });
        const b = generateScript({ seed, profile });
        assert.equal(a.text, b.text, `seed ${seed} ${profile}: not deterministic`);
        assert.ok(a.commands.length >= 40 && a.commands.length <= 200, `seed ${seed} ${profile}: ${a.commands.length} commands`);
        assert.equal(a.text, a.commands.join('\n') + '\n');
        assert.equal(a.direct, profile === 'direct');
        assert.notEqual(a.text, generateScript({ seed: seed + 1, profile }).text, `seeds ${seed} and ${seed + 1} gave the same ${profile} script`);
      }
    }
  });

  it('keeps to its profile and to what each config supports', () => {
    const verbs = new Map<Profile, Set<string>>(PROFILES.map((p) => [p, new Set<string>()]));
    for (const c of CASES) {
      const supported = supportedFallocModes(c.config);
      const where = `seed ${c.seed} ${c.profile} ${describeConfig(c.config)}`;
      for (const cmd of c.gen.commands) {
        const verb = cmd.split(' ')[0] as string;
        verbs.get(c.profile)?.add(verb);
        const nums = numbersOf(cmd);
        // every offset + length stays below the limits
        if (['pwrite', 'pread', 'fpunch', 'falloc', 'fzero', 'mread', 'mwrite', 'fadvise', 'sync_range'].includes(verb)) {
          const [off, len] = nums.slice(-2) as [number, number];
          assert.ok(off + len <= MAX_OFFSET, `${where}: ${cmd} goes past ${MAX_OFFSET}`);
        }
        if (verb === 'truncate') assert.ok((nums[0] as number) <= MAX_SIZE_AFTER_INSERT, `${where}: ${cmd}`);
        if (c.gen.direct && (verb === 'pwrite' || verb === 'pread')) {
          const [off, len] = nums.slice(-2) as [number, number];
          assert.equal(off % ALIGN, 0, `${where}: unaligned direct ${cmd}`);
          assert.equal(len % ALIGN, 0, `${where}: unaligned direct ${cmd}`);
          if (cmd.includes(' -b ')) assert.equal((nums[0] as number) % ALIGN, 0, `${where}: unaligned -b in ${cmd}`);
        }
        if (verb === 'fcollapse' || verb === 'finsert') {
          const [off, len] = nums as [number, number];
          // aligned to 4096, or misaligned for every block size (odd): fails alike everywhere
          const aligned = off % ALIGN === 0 && len % ALIGN === 0;
          assert.ok(aligned || off % 2 === 1, `${where}: ${cmd} is aligned for some block sizes only`);
          assert.ok(supported.has(verb === 'fcollapse' ? 'collapse' : 'insert'), `${where}: unsupported ${cmd}`);
        }
        if (verb === 'fpunch') assert.ok(supported.has('punch'), `${where}: unsupported ${cmd}`);
        if (verb === 'falloc') assert.ok(supported.has(cmd.includes('-k') ? 'keep_size' : 'alloc'), `${where}: unsupported ${cmd}`);
        if (verb === 'fzero') assert.ok(supported.has(cmd.includes('-k') ? 'zero_keep' : 'zero'), `${where}: unsupported ${cmd}`);
        if (verb === 'mmap' && nums.length === 2) assert.equal((nums[0] as number) % 4096, 0, `${where}: unaligned ${cmd}`);
      }
      if (c.config.fs === 'ext4' && c.config.inode === 'indirect') {
        assert.ok(!/^(falloc|fzero|fcollapse|finsert)\b/m.test(c.gen.text), `${where}: indirect inode script uses an unsupported fallocate`);
      }
      if (c.config.fs === 'fuse') assert.ok(!/^(fcollapse|finsert)\b/m.test(c.gen.text), `${where}: fuse script collapses/inserts`);
    }
    const mm = ['mmap', 'mread', 'mwrite', 'msync', 'munmap'];
    const fa = ['falloc', 'fpunch', 'fzero', 'fcollapse', 'finsert'];
    const base = ['pwrite', 'pread', 'truncate', 'fsync', 'fdatasync', 'fadvise', 'sync_range'];
    const has = (p: Profile, list: string[]): void => {
      for (const v of list) assert.ok(verbs.get(p)?.has(v), `profile ${p} never emits ${v}`);
    };
    has('buffered', base);
    has('mmap', [...base, ...mm]);
    has('falloc', [...base, ...fa]);
    has('direct', base);
    for (const v of [...mm, ...fa]) assert.ok(!verbs.get('buffered')?.has(v), `profile buffered emits ${v}`);
    for (const v of fa) assert.ok(!verbs.get('mmap')?.has(v), `profile mmap emits ${v}`);
  });

  it('tracks the file size exactly and never gets xfs_io killed (160 scripts, real kernel)', async () => {
    // Scripts of their own (the differential cases check their sizes too).
    const gens: GeneratedScript[] = [];
    for (let i = 0; i < 160; i++) {
      const fam = FS_FAMILIES[i % FS_FAMILIES.length] as FsFamily;
      const config: SimConfig = { ...fam, blockSize: 4096, folioMax: 16384 };
      gens.push(generateScript({ seed: 0x7e57_0000 + i, profile: PROFILES[Math.floor(i / 4) % PROFILES.length] as Profile, config }));
    }
    const settled = await Promise.all(gens.map(startReal));
    const problems: string[] = [];
    let failedCommands = 0;
    settled.forEach((s, i) => {
      const g = gens[i] as GeneratedScript;
      if (!s.ok) problems.push(`seed ${g.seed} ${g.profile}: ${(s.error as Error).message}`);
      else {
        if (s.value.data.length !== g.finalSize) {
          problems.push(`seed ${g.seed} ${g.profile}: real final size ${s.value.data.length}, tracked ${g.finalSize}`);
        }
        if (s.value.status !== 0) failedCommands++;
      }
    });
    assert.deepEqual(problems, []);
    // some scripts carry deliberate EINVAL collapse/insert calls; most run clean
    assert.ok(failedCommands > 0 && failedCommands < gens.length / 2, `${failedCommands} scripts had a failing command`);
  });
});

// ---------------------------------------------------------------------------
// The differential cases

describe('differential: real xfs_io vs sim', () => {
  for (const c of CASES) {
    const name = `#${c.index} seed ${c.seed} ${c.profile}${c.gen.direct ? ' (direct)' : ''} ${describeConfig(c.config)} (${c.gen.commands.length} cmds)`;
    it(name, async () => {
      const real = await takeRealResult(c);
      assert.equal(real.data.length, c.gen.finalSize, `generator bug: seed ${c.seed} ${c.profile}: real final size ${real.data.length}, tracked ${c.gen.finalSize}`);
      const o = runSim(c.gen.text, `seed-${c.seed}.xfs-io`, c.gen.direct, c.config, real);
      if (o.kind !== 'ok') assert.fail(failureReport(c, o));
      assert.equal(o.simSize, c.gen.finalSize);
    });
  }
});

// ---------------------------------------------------------------------------
// The CLI contract

function runCli(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('CLI: foliofuzz exec', () => {
  const work = mkdtempSync(join(tmpdir(), 'foliofuzz-cli-test-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  const viaCli = async (
    name: string,
    profile: Profile,
    seed: number,
    config: SimConfig,
  ): Promise<void> => {
    const gen = generateScript({ seed, profile, config });
    const script = join(work, `${name}.xfs-io`);
    writeFileSync(script, gen.text);
    const dump = join(work, `${name}-dump`);
    const r = runCli(['exec', '--xfs-io', script, ...configFlags(config, gen.direct), '--dump-dir', dump]);
    assert.equal(r.status, 0, `exit status ${r.status}:\n${r.out.slice(-2000)}`);
    const real = await runRealXfsIo(gen.text, { direct: gen.direct });
    const dumped = join(dump, 'file0');
    assert.ok(existsSync(dumped), `no ${dumped}; output:\n${r.out.slice(-2000)}`);
    const sim = readFileSync(dumped);
    const d = firstDifference(real.data, sim);
    if (d !== -1) {
      assert.fail(
        `seed ${seed} ${profile} ${describeConfig(config)}: dump differs from real at offset ${d} ` +
          `(real size ${real.data.length}, sim size ${sim.length}); script ${saveScript(`cli-${name}.xfs-io`, gen.text)}`,
      );
    }
  };

  it('--xfs-io SCRIPT --dump-dir: exit 0 and file0 equals the real file (buffered, xfs, 1 KiB blocks)', async () => {
    await viaCli('buffered', 'buffered', 0xc11_0001, { fs: 'xfs', inode: 'extent', blockSize: 1024, folioMax: 16384 });
  });

  it('--xfs-io SCRIPT --direct: exit 0 and file0 equals the real xfs_io -d file (ext4)', async () => {
    await viaCli('direct', 'direct', 0xc11_0002, { fs: 'ext4', inode: 'extent', blockSize: 4096, folioMax: 65536 });
  });

  it('PROGRAM.json: exit 0 and every declared file dumped, equal to the real file (mmap, ext4-indirect)', async () => {
    const config: SimConfig = { fs: 'ext4', inode: 'indirect', blockSize: 2048, folioMax: 8192 };
    const gen = generateScript({ seed: 0xc11_0003, profile: 'mmap', config });
    const program = parseXfsIoScript(gen.text, 'cli-json.xfs-io', { direct: false, config });
    const json = join(work, 'program.json');
    writeFileSync(json, JSON.stringify(program));
    const dump = join(work, 'json-dump');
    const r = runCli(['exec', json, '--dump-dir', dump]);
    assert.equal(r.status, 0, `exit status ${r.status}:\n${r.out.slice(-2000)}`);
    const real = await runRealXfsIo(gen.text, { direct: false });
    assert.ok(program.files.length >= 1);
    const first = program.files[0]?.name as string;
    assert.equal(first, 'file0', 'a script\'s file is file0');
    const sim = readFileSync(join(dump, first));
    assert.equal(firstDifference(real.data, sim), -1, `dump of ${json} differs from the real file`);
  });

  it('malformed script: exit 2 and a FILE:LINE: message', () => {
    const bad: [string, number][] = [
      ['pwrite -S 0x41 0 100\npread 0 100\nfrobnicate 1 2\nfsync\n', 3],
      ['pwrite -S 0x41 0 100\npwrite -S 0x42 notanumber 10\n', 2],
    ];
    for (const [i, [text, line]] of bad.entries()) {
      const script = join(work, `bad${i}.xfs-io`);
      writeFileSync(script, text);
      const r = runCli(['exec', '--xfs-io', script, '--dump-dir', join(work, `bad${i}-dump`)]);
      assert.equal(r.status, 2, `bad${i}: exit status ${r.status}, want 2:\n${r.out}`);
      assert.ok(r.out.includes(`${script}:${line}: `), `bad${i}: no "${script}:${line}: " in:\n${r.out}`);
    }
  });
});

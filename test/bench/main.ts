// Benchmarks: `npm run bench [-- SECTION... [--commands N] [--seed N] [--fs ext4,xfs]]`.
//
// Sections are selected by name on the command line; with none, 'seq' and 'pct' run.
//   seq  a long sequential xfs_io workload (pwrite -S / pread / truncate / fpunch,
//        no fsync), run whole-process by the real xfs_io and by the foliofuzz CLI
//        (`exec --xfs-io SCRIPT`); prints both rates in commands/s and their ratio,
//        and checks that both final files are identical.
//   mixed a long sequential xfs_io workload with every command the importer takes
//        (test/bench/mixed.ts): the real xfs_io on the temporary directory's
//        filesystem and, as root, on a loop-mounted xfs (--no-loop: not), the CLI
//        per --fs; rates, sim/kernel ratios, final files compared.
//   pct  executions per second of concurrent programs under PCT, in process.
//   fuzz embedded campaigns per seed switch against the blind baseline
//        (test/bench/fuzz.ts) [--trials N] [--budget SEC] [--workers N]
//        [--off SEC] [--switches a,b] [--modes feedback,baseline,feedback-noscenes,
//        baseline-noscenes,feedback-noalias,feedback-noscenes-noalias]; prints a
//        markdown table for BENCHMARKS.md.
//   cluster  execs/s of 1 and 2 cluster worker processes against the embedded
//        engine (real nats-server and coordinator), and the coordinator's CPU per
//        1,000 execs/s under synthetic results (test/bench/cluster.ts)
//        [--seconds SEC] [--results N].
//   signatures  one bug, one signature: per implemented switch, campaigns with
//        only it on, the distinct signatures each gave and any two share; the
//        seed switches together (test/bench/signatures.ts) [--trials N]
//        [--budget SEC] [--seed-sec SEC] [--workers N] [--switches a,b].
//   campaign-rate  execs/s of one fixed embedded campaign (seed switches, one
//        worker) with this tree's CLI and REV's (test/bench/campaign-rate.ts)
//        --base REV [--rounds N] [--max-execs N].
//   mutants  the mutation benchmark: automatic mutants of worker/sim, the ones
//        no test and no long campaign kills discarded, and the kill rate of
//        campaigns with feedback and blind (test/bench/mutants.ts)
//        [--mutants N] [--budget SEC] [--filter-sec SEC] [--tests DIR,DIR].
// With `--against REV [--rounds N]` the sections run on REV, checked out and
// built in a temporary directory, and on this tree, alternately in child
// processes, N rounds (default 3); the medians of every rate and their ratio
// are printed (test/bench/against.ts).
// To add a section, write `async function benchFoo(opts: BenchOptions): Promise<SectionResult>`
// and register it in SECTIONS.
//
// `npm test` runs every .js file under dist/test/ as a test file, this one
// included: under the test runner (NODE_TEST_CONTEXT is set) it registers a
// small smoke test of the seq and mixed sections instead of benchmarking.

import assert from 'node:assert/strict';
import { runProgram } from '../../worker/exec/run.js';
import type { Program } from '../../worker/prog/types.js';
import { CONFIGS, generateConcurrentProgram } from '../property/gen.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { findXfsIo } from '../differential/real-xfs-io.js';
import { firstDifference, rate, timeProcess } from './process-timing.js';
import { FUZZ_MODES, type FuzzMode, SEED_SWITCHES, benchFuzz } from './fuzz.js';
import { benchAgainst } from './against.js';
import { benchCluster } from './cluster.js';
import { benchTwin } from './twin.js';
import { IMPLEMENTED_SWITCHES, benchSignatures } from './signatures.js';
import { benchCampaignRate } from './campaign-rate.js';
import { benchMixed } from './mixed.js';
import { MIXED_KINDS, generateMixedWorkload } from './mixed-workload.js';
import { DEFAULT_MUTANT_TESTS, benchMutants } from './mutants.js';
import { type BugName, findBug } from '../../worker/sim/bugs.js';
import { Rng } from '../differential/rng.js';

export interface BenchOptions {
  /** Number of commands in generated workloads. */
  commands: number;
  seed: number;
  /** --fs values the CLI is run with. */
  fsList: string[];
  /** Print progress and results. */
  log: (line: string) => void;
  /** fuzz: campaigns per switch and mode, each budget seconds, over workers threads; off seconds with every switch off. */
  fuzz: { trials: number; budget: number; workers: number; off: number; switches: BugName[]; modes: FuzzMode[] };
  /** mixed: also run the kernel on a loop-mounted xfs (default true). */
  loopXfs?: boolean;
  /** cluster: seconds per throughput measurement, synthetic results for the coordinator cost. */
  cluster?: { seconds: number; results: number };
  /** twin: how many generated programs run on the kernel and in the sim. */
  twinPrograms?: number;
  /** signatures: campaigns per switch, their length, the seed switches' campaign length (0: skip). */
  signatures?: { trials: number; budget: number; seedSec: number; workers: number; switches: BugName[] };
  /** campaign-rate: the revision to compare with, rounds, executions per campaign. */
  campaignRate?: { base: string; rounds: number; maxExecs: number };
  /** mutants: how many, each campaign's budget, the filter's campaign length, the test directories. */
  mutants?: { count: number; budget: number; filterSec: number; tests: string[] };
}

export interface SectionResult {
  /** true when every check of the section passed. */
  ok: boolean;
  problems: string[];
}

type Section = { describe: string; run: (opts: BenchOptions) => Promise<SectionResult> };

const CLI = fileURLToPath(new URL('../../worker/cli/main.js', import.meta.url));

// ---------------------------------------------------------------------------
// seq

const MIB = 1 << 20;
const MAX_LEN = 64 << 10;

/** A sequential single-file xfs_io workload: pwrite -S / pread / truncate / fpunch, offsets < 1 MiB. */
export function generateSeqWorkload(seed: number, commands: number): string {
  const r = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < commands; i++) {
    const x = r.int(100);
    if (x < 50) {
      const off = r.int(MIB);
      const len = r.range(1, Math.min(MAX_LEN, MIB - off));
      lines.push(`pwrite -q -S 0x${r.range(1, 255).toString(16)} ${off} ${len}`);
    } else if (x < 80) {
      const off = r.int(MIB);
      lines.push(`pread -q ${off} ${r.range(1, Math.min(MAX_LEN, MIB - off))}`);
    } else if (x < 88) {
      lines.push(`truncate ${r.int(MIB + 1)}`);
    } else {
      const off = r.int(MIB);
      lines.push(`fpunch ${off} ${r.range(1, Math.min(MAX_LEN, MIB - off))}`);
    }
  }
  return lines.join('\n') + '\n';
}

async function benchSeq(opts: BenchOptions): Promise<SectionResult> {
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'foliofuzz-bench-'));
  let keep = false;
  try {
    const script = join(dir, 'seq.xfs-io');
    writeFileSync(script, generateSeqWorkload(opts.seed, opts.commands));
    opts.log(`seq: ${opts.commands.toLocaleString('en-US')} commands (seed ${opts.seed}), script ${script}`);

    const realFile = join(dir, 'real-file0');
    const real = timeProcess(findXfsIo(), ['-f', realFile], script);
    if (real.signal !== null || (real.status !== 0 && real.status !== 1)) {
      problems.push(`xfs_io ended with ${real.signal ?? `status ${real.status}`}: ${real.stderr.slice(-300)}`);
      return { ok: false, problems };
    }
    const realData = readFileSync(realFile);
    opts.log(`  xfs_io (real kernel):        ${real.seconds.toFixed(3)} s  ${rate(opts.commands, real.seconds)}  final size ${realData.length}`);

    for (const fs of opts.fsList) {
      const dump = join(dir, `dump-${fs}`);
      const sim = timeProcess(process.execPath, [CLI, 'exec', '--xfs-io', script, '--fs', fs, '--dump-dir', dump]);
      if (sim.status !== 0) {
        const tail = (sim.stdout + sim.stderr).trim().split('\n').slice(-5).join('\n    ');
        problems.push(`foliofuzz exec --fs ${fs} exited ${sim.signal ?? sim.status}:\n    ${tail}`);
        continue;
      }
      const simFile = join(dump, 'file0');
      if (!existsSync(simFile)) {
        problems.push(`foliofuzz exec --fs ${fs} wrote no ${simFile}`);
        continue;
      }
      const simData = readFileSync(simFile);
      const d = firstDifference(realData, simData);
      opts.log(
        `  foliofuzz sim (--fs ${fs.padEnd(4)}): ${sim.seconds.toFixed(3)} s  ${rate(opts.commands, sim.seconds)}  ` +
          `final size ${simData.length}  sim time / real time = ${(sim.seconds / real.seconds).toFixed(1)}x`,
      );
      if (d >= 0) {
        keep = true;
        problems.push(
          `--fs ${fs}: final file differs from the real one at offset ${d} ` +
            `(real size ${realData.length}, sim size ${simData.length}); script kept at ${script}`,
        );
      } else {
        opts.log(`  --fs ${fs}: final file identical to the real one (${simData.length} bytes)`);
      }
    }
    return { ok: problems.length === 0, problems };
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// driver

// ---------------------------------------------------------------------------
// pct

/**
 * Executions per second of concurrent programs (4 threads, about 50 ops in
 * all) under the PCT strategy, in process, as a fuzzing worker runs them.
 */
async function benchPct(opts: BenchOptions): Promise<SectionResult> {
  const programs = Math.max(200, Math.min(4000, Math.floor(opts.commands / 50)));
  const prepared: Program[] = [];
  for (let i = 0; i < programs; i++) {
    const p = generateConcurrentProgram(opts.seed * 100_003 + i, CONFIGS[i % CONFIGS.length]!, 4, [10, 15]);
    prepared.push({ ...p, schedule: { strategy: 'pct' as const, seed: i, depth: 3, decisions: [] } });
  }
  let ops = 0;
  let steps = 0;
  const t0 = process.hrtime.bigint();
  for (const p of prepared) {
    const r = runProgram(p);
    steps += r.steps;
    ops += r.results.length;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  opts.log(`pct: ${programs} programs of 4 threads (${(ops / programs).toFixed(0)} ops each) in ${secs.toFixed(2)} s`);
  opts.log(`  ${(programs / secs).toFixed(0)} execs/s, ${(steps / programs).toFixed(0)} scheduler steps per exec, one core`);
  // Byte provenance recorded throughout every run (campaigns record it only to name a DATA finding),
  // against the plain runs once more, both warm.
  const timed = (provenance: 'on' | 'on-data'): number => {
    const t = process.hrtime.bigint();
    for (const p of prepared) runProgram(p, { provenance });
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  const provSecs = timed('on');
  const plainSecs = timed('on-data');
  opts.log(`  again, warm: ${(programs / plainSecs).toFixed(0)} execs/s as shipped, ` +
    `with byte provenance throughout ${(programs / provSecs).toFixed(0)} execs/s (${(plainSecs / provSecs).toFixed(3)}x)`);
  return { ok: true, problems: [] };
}

async function runFuzzSection(opts: BenchOptions): Promise<SectionResult> {
  const f = opts.fuzz;
  opts.log(`command: npm run bench -- fuzz --trials ${f.trials} --budget ${f.budget} --workers ${f.workers} --off ${f.off} ` +
    `--switches ${f.switches.join(',')} --modes ${f.modes.join(',')} --seed ${opts.seed}`);
  const r = await benchFuzz({
    trials: f.trials, budgetSec: f.budget, workers: f.workers, offSec: f.off, switches: f.switches, modes: f.modes,
    seed: opts.seed, log: opts.log,
  });
  opts.log('');
  for (const line of r.table) opts.log(line);
  return { ok: r.ok, problems: r.problems };
}

async function runClusterSection(opts: BenchOptions): Promise<SectionResult> {
  const c = opts.cluster ?? { seconds: 15, results: 5000 };
  opts.log(`command: npm run bench -- cluster --seconds ${c.seconds} --results ${c.results} --seed ${opts.seed}`);
  const r = await benchCluster({ seconds: c.seconds, results: c.results, seed: opts.seed, log: opts.log });
  return { ok: r.ok, problems: r.problems };
}

async function runSignaturesSection(opts: BenchOptions): Promise<SectionResult> {
  const s = opts.signatures!;
  opts.log(`command: npm run bench -- signatures --trials ${s.trials} --budget ${s.budget} --seed-sec ${s.seedSec} --workers ${s.workers} ` +
    `--switches ${s.switches.join(',')} --seed ${opts.seed}`);
  const r = await benchSignatures({
    trials: s.trials, budgetSec: s.budget, seedSec: s.seedSec, workers: s.workers, switches: s.switches, seed: opts.seed, log: opts.log,
  });
  opts.log('');
  for (const line of r.table) opts.log(line);
  return { ok: r.ok, problems: r.problems };
}

async function runCampaignRateSection(opts: BenchOptions): Promise<SectionResult> {
  const c = opts.campaignRate;
  if (!c?.base) return { ok: false, problems: ['campaign-rate needs --base REV'] };
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  return benchCampaignRate({ root, base: c.base, rounds: c.rounds, maxExecs: c.maxExecs, seed: opts.seed, log: opts.log });
}

async function runMutantsSection(opts: BenchOptions): Promise<SectionResult> {
  const m = opts.mutants!;
  opts.log(`command: npm run bench -- mutants --mutants ${m.count} --budget ${m.budget} --filter-sec ${m.filterSec} ` +
    `--seed ${opts.seed} --tests ${m.tests.join(',')}`);
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const r = await benchMutants({ root, count: m.count, budgetSec: m.budget, filterSec: m.filterSec, seed: opts.seed, tests: m.tests, log: opts.log });
  opts.log('');
  for (const line of r.table) opts.log(line);
  return { ok: r.ok, problems: r.problems };
}

export const SECTIONS: Record<string, Section> = {
  seq: { describe: 'sequential xfs_io workload: real xfs_io vs foliofuzz exec --xfs-io', run: benchSeq },
  mixed: {
    describe: 'sequential workload of every importer command: real xfs_io (tmpdir, loop xfs) vs foliofuzz exec --xfs-io',
    run: (opts) => benchMixed({ ...opts, loopXfs: opts.loopXfs ?? true }),
  },
  pct: { describe: 'concurrent programs (4 threads, ~50 ops) under PCT: execs per second in process', run: benchPct },
  fuzz: { describe: 'embedded campaigns per seed switch: time to find, against the blind baseline', run: runFuzzSection },
  twin: {
    describe: 'programs per second on the real kernel (native executor) and in the sim, same generated programs, per config (root)',
    run: (opts) => benchTwin({ programs: opts.twinPrograms ?? 1000, seed: opts.seed, log: opts.log }),
  },
  cluster: { describe: 'cluster workers vs the embedded engine (execs/s), coordinator CPU per 1,000 execs/s', run: runClusterSection },
  signatures: { describe: 'signatures per switch (campaigns with one switch on), shared ones, the seed switches together', run: runSignaturesSection },
  'campaign-rate': { describe: 'execs/s of a fixed embedded campaign with this tree\'s CLI and --base REV\'s', run: runCampaignRateSection },
  mutants: { describe: 'mutants of worker/sim: the killable ones\' kill rate by campaigns, feedback vs blind', run: runMutantsSection },
};

const DEFAULT_SECTIONS = ['seq', 'pct'];

interface ParsedArgs {
  sections: string[];
  opts: BenchOptions;
}

function usage(): string {
  const lines = Object.entries(SECTIONS).map(([k, s]) => `  ${k.padEnd(8)} ${s.describe}`);
  return [
    'usage: npm run bench -- [SECTION...] [--commands N] [--seed N] [--fs ext4,xfs] [--against REV [--rounds N]]',
    '       --against REV: the same sections on REV (built in a temporary directory) and on this tree, alternately',
    '       fuzz: [--trials N] [--budget SEC] [--workers N] [--off SEC] [--switches a,b] [--modes feedback,baseline,feedback-noscenes,baseline-noscenes,feedback-noalias,feedback-noscenes-noalias]',
    '       mixed: [--no-loop] (skip the loop-mounted xfs)',
    '       cluster: [--seconds SEC] [--results N]',
    '       twin: [--programs N]',
    '       signatures: [--trials N] [--budget SEC] [--seed-sec SEC] [--workers N] [--switches a,b] (defaults 3, 60, 300, 1, every implemented switch)',
    '       campaign-rate: --base REV [--rounds N] [--max-execs N] (defaults 3, 20000)',
    `       mutants: [--mutants N] [--budget SEC] [--filter-sec SEC] [--tests DIR,DIR] (defaults 60, 60, 600, ${DEFAULT_MUTANT_TESTS.join(',')})`,
    `sections (default: ${DEFAULT_SECTIONS.join(' ')}):`,
    ...lines,
  ].join('\n');
}

function parseArgs(argv: string[]): ParsedArgs {
  const sections: string[] = [];
  const opts: BenchOptions = {
    commands: 150_000, seed: 1, fsList: ['xfs', 'ext4'], log: (l) => console.log(l),
    fuzz: { trials: 10, budget: 120, workers: 2, off: 600, switches: SEED_SWITCHES, modes: ['feedback', 'baseline'] },
    cluster: { seconds: 15, results: 5000 },
    signatures: { trials: 3, budget: 60, seedSec: 300, workers: 1, switches: IMPLEMENTED_SWITCHES },
    campaignRate: { base: '', rounds: 3, maxExecs: 20_000 },
    mutants: { count: 60, budget: 60, filterSec: 600, tests: DEFAULT_MUTANT_TESTS },
  };
  const mut = opts.mutants!;
  const sig = opts.signatures!;
  const int = (flag: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--commands') {
      opts.commands = Number(value());
      if (!Number.isInteger(opts.commands) || opts.commands < 1) throw new Error('--commands must be a positive integer');
    } else if (a === '--seed') {
      opts.seed = Number(value());
      if (!Number.isInteger(opts.seed)) throw new Error('--seed must be an integer');
    } else if (a === '--fs') {
      opts.fsList = value().split(',').filter(Boolean);
    } else if (a === '--trials') {
      opts.fuzz.trials = sig.trials = int(a, value());
    } else if (a === '--budget') {
      opts.fuzz.budget = sig.budget = mut.budget = int(a, value());
    } else if (a === '--workers') {
      opts.fuzz.workers = sig.workers = Math.max(1, int(a, value()));
    } else if (a === '--mutants') {
      mut.count = Math.max(1, int(a, value()));
    } else if (a === '--filter-sec') {
      mut.filterSec = int(a, value());
    } else if (a === '--tests') {
      mut.tests = value().split(',').filter(Boolean);
    } else if (a === '--seed-sec') {
      sig.seedSec = int(a, value());
    } else if (a === '--base') {
      opts.campaignRate!.base = value();
    } else if (a === '--rounds') {
      opts.campaignRate!.rounds = Math.max(1, int(a, value()));
    } else if (a === '--max-execs') {
      opts.campaignRate!.maxExecs = Math.max(1, int(a, value()));
    } else if (a === '--seconds') {
      opts.cluster!.seconds = Math.max(1, int(a, value()));
    } else if (a === '--programs') {
      opts.twinPrograms = Math.max(1, int(a, value()));
    } else if (a === '--results') {
      opts.cluster!.results = Math.max(1, int(a, value()));
    } else if (a === '--no-loop') {
      opts.loopXfs = false;
    } else if (a === '--off') {
      opts.fuzz.off = int(a, value());
    } else if (a === '--switches') {
      opts.fuzz.switches = sig.switches = value().split(',').filter(Boolean).map((n) => {
        const b = findBug(n);
        if (!b || !b.implemented) throw new Error(`--switches: unknown switch ${n}`);
        return b.name;
      });
    } else if (a === '--modes') {
      opts.fuzz.modes = value().split(',').filter(Boolean).map((m) => {
        const mode = FUZZ_MODES.find((x) => x === m);
        if (!mode) throw new Error(`--modes: ${m} is not one of ${FUZZ_MODES.join(', ')}`);
        return mode;
      });
    } else if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    } else if (a.startsWith('-')) {
      throw new Error(`unknown option ${a}`);
    } else if (!(a in SECTIONS)) {
      throw new Error(`unknown section ${a}`);
    } else {
      sections.push(a);
    }
  }
  return { sections: sections.length > 0 ? sections : DEFAULT_SECTIONS, opts };
}

/** `--against REV [--rounds N]`: split off, with what the sections get. */
function againstArgs(argv: string[]): { rev: string; rounds: number; rest: string[] } | null {
  const i = argv.indexOf('--against');
  if (i < 0) return null;
  const rev = argv[i + 1];
  if (rev === undefined || rev.startsWith('-')) throw new Error('--against needs a revision');
  const rest = [...argv.slice(0, i), ...argv.slice(i + 2)];
  const j = rest.indexOf('--rounds');
  let rounds = 3;
  if (j >= 0) {
    rounds = Number(rest[j + 1]);
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
    rest.splice(j, 2);
  }
  return { rev, rounds, rest };
}

async function main(argv: string[]): Promise<number> {
  let against: ReturnType<typeof againstArgs>;
  try {
    against = againstArgs(argv);
    if (against) parseArgs(against.rest);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${usage()}`);
    return 2;
  }
  if (against) {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    return benchAgainst({ root, rev: against.rev, rounds: against.rounds, args: against.rest, log: (l) => console.log(l) });
  }
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${usage()}`);
    return 2;
  }
  let ok = true;
  for (const name of parsed.sections) {
    const section = SECTIONS[name] as Section;
    console.log(`== ${name}: ${section.describe}`);
    const r = await section.run(parsed.opts);
    for (const p of r.problems) console.log(`  FAIL: ${p}`);
    ok &&= r.ok;
  }
  return ok ? 0 : 1;
}

function smokeTest(): void {
  test('bench seq section (smoke: 3000 commands, real xfs_io vs CLI on xfs and ext4)', async () => {
    const lines: string[] = [];
    const r = await benchSeq({
      commands: 3000, seed: 7, fsList: ['xfs', 'ext4'], log: (l) => lines.push(l),
      fuzz: { trials: 0, budget: 0, workers: 1, off: 0, switches: [], modes: [] },
    });
    assert.deepEqual(r.problems, [], lines.join('\n'));
    assert.equal(lines.filter((l) => l.includes('identical to the real one')).length, 2, lines.join('\n'));
    // the workload is deterministic in its seed and has the requested length
    assert.equal(generateSeqWorkload(7, 3000), generateSeqWorkload(7, 3000));
    assert.equal(generateSeqWorkload(7, 3000).split('\n').length - 1, 3000);
    assert.notEqual(generateSeqWorkload(7, 3000), generateSeqWorkload(8, 3000));
  });
  test('bench mixed section (smoke: 400 commands, real xfs_io in the tmpdir vs CLI on xfs and ext4)', async () => {
    const lines: string[] = [];
    const r = await benchMixed({ commands: 400, seed: 7, fsList: ['xfs', 'ext4'], loopXfs: false, log: (l) => lines.push(l) });
    assert.deepEqual(r.problems, [], lines.join('\n'));
    assert.equal(lines.filter((l) => l.includes('final file identical')).length, 2, lines.join('\n'));
  });
  test('mixed workload: deterministic, the requested length, every kind drawn', () => {
    const w = generateMixedWorkload(7, 3000);
    assert.equal(w.script, generateMixedWorkload(7, 3000).script);
    assert.notEqual(w.script, generateMixedWorkload(8, 3000).script);
    assert.equal(w.script.split('\n').length - 1, 3000);
    assert.ok(w.script.trimEnd().split('\n').at(-1)!.startsWith('copy_range '));
    for (const kind of MIXED_KINDS) assert.ok((w.counts.get(kind) ?? 0) > 0, `no ${kind} in ${[...w.counts.keys()].join(', ')}`);
  });
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  if (process.env.NODE_TEST_CONTEXT) {
    smokeTest();
  } else {
    process.exitCode = await main(process.argv.slice(2));
  }
}

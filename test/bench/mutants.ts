// The mutation benchmark (`npm run bench -- mutants`, issue 19): how many
// deliberately broken simulators a short campaign catches, with feedback and
// blind. The seeded bug switches are bugs the fuzzer was tuned on; mutants
// are bugs nobody chose, so this is the measure search changes are judged by.
//
// The mutants are automatic (test/bench/mutate-js.ts): a state-changing
// statement deleted, an if negated, a bound moved by one, a lock/unlock or a
// flag update dropped, in the compiled worker/sim of this tree. `count` of
// them are drawn by seed, and each, in a scratch copy of dist/
// (test/bench/mutant-tree.ts), is judged:
//   1. trivial programs (a write read back, on every filesystem): a mutant
//      that fails them is killed by anything, and is counted apart;
//   2. the unit tests of the sim and the executor;
//   3. a campaign of `budgetSec`, with feedback, then blind (--no-feedback
//      --schedule random), one worker, every switch off, same seed: killed
//      when it reports a finding whose program runs clean on the unmutated
//      sim (one that fires there too is a false positive of the sim, listed
//      as a problem, and the campaign goes on), a harness error, crashes or
//      hangs;
//   4. when nothing killed it yet, the filter: a campaign of `filterSec` in
//      each mode (another seed). A mutant no test and no campaign killed is
//      discarded as equivalent or out of reach, and left out of the rates.
// The run starts with a control on the unmutated tree: the trivial programs
// and the tests pass, and campaigns of the budget in both modes neither throw
// nor crash (a harness error could not be told from a mutant's).

import { readFileSync, readdirSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, relative } from 'node:path';
import { type MutationSite, OPERATORS, applySite, enumerateSites, sampleSites } from './mutate-js.js';
import { type CampaignMode, type CampaignOutcome, type MutantTree, type Verdict, judgeTests, judgeTrivial, makeMutantTree, runCampaign } from './mutant-tree.js';

export interface MutantsBenchOptions {
  /** The repository root: its dist/ is what is mutated. */
  root: string;
  count: number;
  budgetSec: number;
  filterSec: number;
  seed: number;
  /** Test directories, relative to the root (dist/test/unit/sim, ...). */
  tests: string[];
  log: (line: string) => void;
}

export const DEFAULT_MUTANT_TESTS = ['dist/test/unit/sim', 'dist/test/unit/exec'];

/**
 * Files of worker/sim that are the oracle or the harness, not the simulated
 * kernel: the checks, coverage (alias pairs included), provenance and the
 * byte runs it and the oracle's shadow name writers with, lockdep, the switch
 * table, the schedule strategies' random choices, constants. A mutant there
 * changes what is observed or which interleavings are tried, never what the
 * kernel does.
 */
const NOT_MUTATED = new Set([
  'checks.js', 'cov.js', 'alias.js', 'provenance.js', 'byte-runs.js', 'lockdep.js', 'bugs.js', 'schedule.js', 'version.js', 'errno.js',
]
  .map((f) => `worker/sim/${f}`));

const TESTS_TIMEOUT_SEC = 600;

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
}

/** Every mutation site of the compiled worker/sim under `distDir`, in path order. */
export function simSites(distDir: string): MutationSite[] {
  const files = jsFiles(join(distDir, 'worker', 'sim')).map((f) => relative(distDir, f).split('\\').join('/')).sort();
  return files.filter((f) => !NOT_MUTATED.has(f)).flatMap((f) => enumerateSites(f, readFileSync(join(distDir, f), 'utf8')));
}

/** `worker/sim/mm/folio.ts:48`: where the site is in the TypeScript, from the source map. */
function sourceOf(distDir: string, site: MutationSite): string {
  try {
    const map = new SourceMap(JSON.parse(readFileSync(join(distDir, `${site.file}.map`), 'utf8')));
    const e = map.findEntry(site.line - 1, site.column - 1);
    if ('originalSource' in e) return `${e.originalSource.replace(/^(\.\.\/)+/, '')}:${e.originalLine + 1}`;
  } catch {
    // no map: the JavaScript position is all there is
  }
  return `${site.file}:${site.line}`;
}

interface MutantResult {
  site: MutationSite;
  source: string;
  trivial: Verdict;
  tests: Verdict;
  feedback: CampaignOutcome | null;
  blind: CampaignOutcome | null;
  /** The filter's long campaigns, run only when nothing else killed the mutant. */
  filter: { mode: CampaignMode; outcome: CampaignOutcome }[];
}

const killedBy = (o: CampaignOutcome | null): boolean => o !== null && o.kill !== null;
const isTrivial = (r: MutantResult): boolean => r.trivial !== null;
const isKillable = (r: MutantResult): boolean =>
  !isTrivial(r) && (r.tests !== null || killedBy(r.feedback) || killedBy(r.blind) || r.filter.some((f) => killedBy(f.outcome)));

/** The unmutated tree: trivial programs pass, tests pass, neither campaign throws, crashes or hangs. */
async function control(tree: MutantTree, o: MutantsBenchOptions, falsePositives: string[]): Promise<string[]> {
  const problems: string[] = [];
  const trivial = judgeTrivial(tree);
  if (trivial) problems.push(`control: the unmutated sim fails the trivial programs (${trivial})`);
  const tests = judgeTests(tree, o.tests, TESTS_TIMEOUT_SEC);
  if (tests) problems.push(`control: the tests fail on the unmutated tree (${tests})`);
  for (const mode of ['feedback', 'blind'] as const) {
    const c = await runCampaign(tree, o.root, mode, o.seed, o.budgetSec);
    o.log(`  control ${mode}: ${describe(c)}${c.falsePositives.length ? `; false positives of the sim: ${c.falsePositives.join('; ')}` : ''}`);
    if (c.kill) problems.push(`control: a ${mode} campaign on the unmutated sim ended in ${c.kill}: ${c.detail}`);
    falsePositives.push(...c.falsePositives.map((f) => `control ${mode} seed ${o.seed}: ${f}`));
  }
  return problems;
}

async function judgeMutant(tree: MutantTree, site: MutationSite, o: MutantsBenchOptions): Promise<MutantResult> {
  const distDir = join(tree.dir, 'dist');
  const text = readFileSync(join(distDir, site.file), 'utf8');
  const r: MutantResult = { site, source: sourceOf(distDir, site), trivial: null, tests: null, feedback: null, blind: null, filter: [] };
  const restore = tree.mutate(site.file, applySite(text, site));
  try {
    r.trivial = judgeTrivial(tree);
    if (r.trivial) return r;
    r.tests = judgeTests(tree, o.tests, TESTS_TIMEOUT_SEC);
    r.feedback = await runCampaign(tree, o.root, 'feedback', o.seed, o.budgetSec);
    r.blind = await runCampaign(tree, o.root, 'blind', o.seed, o.budgetSec);
    if (r.tests === null && !killedBy(r.feedback) && !killedBy(r.blind) && o.filterSec > 0) {
      for (const mode of ['feedback', 'blind'] as const) {
        const outcome = await runCampaign(tree, o.root, mode, o.seed + 1, o.filterSec);
        r.filter.push({ mode, outcome });
        if (outcome.kill) break;
      }
    }
    return r;
  } finally {
    restore();
  }
}

/** The campaigns a mutant ran, named. */
function campaignsOf(r: MutantResult): [string, CampaignOutcome][] {
  const out: [string, CampaignOutcome][] = [];
  if (r.feedback) out.push(['feedback', r.feedback]);
  if (r.blind) out.push(['blind', r.blind]);
  for (const f of r.filter) out.push([`filter ${f.mode}`, f.outcome]);
  return out;
}

function describe(c: CampaignOutcome | null): string {
  if (c === null) return '—';
  const execs = c.execs !== null ? ` (${c.execs.toLocaleString('en-US')} execs)` : '';
  if (c.kill === null) return `not killed${execs}`;
  return `${c.kill === 'finding' ? 'killed' : c.kill} ${c.sec.toFixed(1)} s${execs}`;
}

function verdictLine(r: MutantResult): string {
  if (r.trivial) return `trivial (${r.trivial})`;
  const filter = r.filter.map((f) => `filter ${f.mode} ${describe(f.outcome)}`).join(', ');
  return `tests ${r.tests ?? 'pass'}; feedback ${describe(r.feedback)}${r.feedback?.kill ? `: ${r.feedback.detail}` : ''}; ` +
    `blind ${describe(r.blind)}${filter ? `; ${filter}` : ''}${isKillable(r) || isTrivial(r) ? '' : ': discarded'}`;
}

/** Markdown code that survives a table cell. */
const cell = (s: string, max = 48): string => `\`${(s.length > max ? s.slice(0, max - 1) + '…' : s).replace(/\|/g, '\\|')}\``;

function tableLines(results: readonly MutantResult[]): string[] {
  const lines = [
    '| mutant (JS file:line:col) | operator | source | replaced | tests | feedback | blind | long campaign (filter) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const s = r.site;
    const id = `${s.file.replace(/^worker\/sim\//, '')}:${s.line}:${s.column}`;
    const change = `${cell(s.original)}${s.replacement === ';' ? ' deleted' : ` → ${cell(s.replacement)}`}`;
    const tests = r.trivial ? 'killed (trivial)' : r.tests ? 'killed' : 'pass';
    const camp = (c: CampaignOutcome | null): string => (r.trivial ? '(trivial)' : describe(c));
    const filter = r.filter.length === 0 ? '—' : r.filter.map((f) => `${f.mode}: ${describe(f.outcome)}`).join('; ') +
      (isKillable(r) ? '' : ' → discarded');
    lines.push(`| ${id} | ${s.operator} | ${r.source.replace(/^worker\/sim\//, '')} | ${change} | ${tests} | ${camp(r.feedback)} | ${camp(r.blind)} | ${filter} |`);
  }
  return lines;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const pct = (n: number, d: number): string => `${n}/${d}${d > 0 ? ` (${Math.round((100 * n) / d)}%)` : ''}`;

function rateLine(name: string, killable: readonly MutantResult[], pick: (r: MutantResult) => CampaignOutcome | null, budgetSec: number): string {
  const killed = killable.filter((r) => killedBy(pick(r)));
  const times = killed.map((r) => pick(r)!.sec);
  return `- ${name}, ${budgetSec} s: killed ${pct(killed.length, killable.length)}` +
    (times.length ? `, median time to kill ${median(times).toFixed(1)} s` : '');
}

function summaryLines(results: readonly MutantResult[], o: MutantsBenchOptions): string[] {
  const trivial = results.filter(isTrivial);
  const killable = results.filter(isKillable);
  const discarded = results.length - trivial.length - killable.length;
  const fb = killable.filter((r) => killedBy(r.feedback)).length;
  const bl = killable.filter((r) => killedBy(r.blind)).length;
  const byOp = OPERATORS.map((op) => {
    const k = killable.filter((r) => r.site.operator === op);
    return `${op} ${k.filter((r) => killedBy(r.feedback)).length}/${k.filter((r) => killedBy(r.blind)).length}/${k.length}`;
  });
  return [
    `- sampled: ${results.length} mutants (seed ${o.seed}); trivially killed (the trivial programs fail): ${trivial.length}; ` +
      `discarded (no test and no campaign${o.filterSec > 0 ? `, the filter's ${o.filterSec} s ones included,` : ' (no filter: --filter-sec 0)'} killed them): ${discarded}; ` +
      `killable and not trivial: ${killable.length}`,
    `- of those ${killable.length}, killed by the unit tests (${o.tests.join(', ')}): ${pct(killable.filter((r) => r.tests !== null).length, killable.length)}`,
    rateLine('feedback', killable, (r) => r.feedback, o.budgetSec),
    rateLine('blind', killable, (r) => r.blind, o.budgetSec),
    `- killed by feedback only: ${killable.filter((r) => killedBy(r.feedback) && !killedBy(r.blind)).length}; ` +
      `by blind only: ${killable.filter((r) => !killedBy(r.feedback) && killedBy(r.blind)).length}`,
    `- per operator (killed feedback/blind/killable): ${byOp.join(', ')}`,
    `- counting the trivially killed as killed by both: feedback ${pct(fb + trivial.length, killable.length + trivial.length)}, ` +
      `blind ${pct(bl + trivial.length, killable.length + trivial.length)}`,
  ];
}

export interface MutantsBenchResult {
  ok: boolean;
  problems: string[];
  /** The markdown table and the summary (for BENCHMARKS.md). */
  table: string[];
}

export async function benchMutants(o: MutantsBenchOptions): Promise<MutantsBenchResult> {
  const tree = makeMutantTree(o.root);
  try {
    const all = simSites(join(tree.dir, 'dist'));
    const sample = sampleSites(all, o.count, o.seed);
    const counts = OPERATORS.map((op) => `${op} ${all.filter((s) => s.operator === op).length}`).join(', ');
    o.log(`mutation sites in worker/sim: ${all.length} (${counts}); sampled ${sample.length} with seed ${o.seed}`);
    o.log('control: the unmutated tree');
    const falsePositives: string[] = [];
    const problems = await control(tree, o, falsePositives);
    if (problems.length) return { ok: false, problems, table: [] };
    const results: MutantResult[] = [];
    for (const [i, site] of sample.entries()) {
      const t0 = performance.now();
      const r = await judgeMutant(tree, site, o);
      results.push(r);
      falsePositives.push(...campaignsOf(r).flatMap(([name, c]) => c.falsePositives.map((f) => `${site.id} ${name}: ${f}`)));
      o.log(`  ${i + 1}/${sample.length} ${site.id} ${site.original.slice(0, 60)}: ${verdictLine(r)} [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
    }
    const fpLines = falsePositives.length
      ? ['', `false positives of the sim met on the way (their programs fire on the unmutated sim too; not kills): ${falsePositives.length}`,
        ...falsePositives.map((f) => `- ${f}`)]
      : ['', 'false positives of the sim met on the way: none'];
    const table = [...tableLines(results), '', ...summaryLines(results, o), ...fpLines];
    return { ok: falsePositives.length === 0, problems: falsePositives.map((f) => `false positive of the sim: ${f}`), table };
  } finally {
    tree.remove();
  }
}

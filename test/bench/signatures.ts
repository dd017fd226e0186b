// The signatures benchmark (`npm run bench -- signatures`): one bug, one
// signature (issue 16). Embedded campaigns, as `foliofuzz fuzz` runs them
// (coverage feedback, minimization with switch attribution):
//
//   per implemented switch, `trials` campaigns of `budgetSec` with only that
//   switch on: the distinct signatures each switch gave (goal: 1.2 or fewer
//   on average, none above 2), and any signature two switches share (a merge
//   of two bugs is worse than a split);
//   the six seed switches together for `seedSec` (what `npm start` runs):
//   the distinct signatures (it was 15 for 6 bugs), each with the switches
//   its minimization attributed it to.
//
// A finding whose first program fires with every switch off is no switch's
// bug: it is listed apart (a false positive of the sim).

import { mkdtempSync, rmSync } from 'node:fs';
import { keepFalsePositive } from './false-positives.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from '../../worker/exec/run.js';
import { type CampaignEvent, type FindingSummary, runCampaign } from '../../worker/fuzz/campaign.js';
import { BUG_SWITCHES, type BugName } from '../../worker/sim/bugs.js';
import { SEED_SWITCHES } from './fuzz.js';

export interface SignaturesBenchOptions {
  trials: number;
  budgetSec: number;
  /** The seed switches together: seconds (0: skip). */
  seedSec: number;
  workers: number;
  switches: BugName[];
  seed: number;
  log: (line: string) => void;
}

export const IMPLEMENTED_SWITCHES: BugName[] = BUG_SWITCHES.filter((b) => b.implemented).map((b) => b.name);

interface CampaignOutcome {
  findings: FindingSummary[];
  /** Signatures whose first program fires with every switch off, each with where the program was kept: "SIG (PATH)". */
  offFindings: string[];
  execs: number;
  execsPerSec: number;
}

async function campaign(bugs: BugName[], seed: number, sec: number, workers: number): Promise<CampaignOutcome> {
  const store = mkdtempSync(join(tmpdir(), 'foliofuzz-bench-sig-'));
  const offFindings: string[] = [];
  const onEvent = (e: CampaignEvent): void => {
    if (e.kind === 'finding' && runProgram(e.program).violation !== null) {
      offFindings.push(`${e.record.signature} (${keepFalsePositive('signatures', e.program, e.record.signature)})`);
    }
  };
  try {
    const s = await runCampaign({ bugs, workers, seed, durationSec: sec, storeDir: store, feedback: true, minimize: true, minimizeWaitSec: 120, onEvent });
    return { findings: s.findings, offFindings, execs: s.execs, execsPerSec: s.execsPerSec };
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

export interface SignaturesBenchResult {
  ok: boolean;
  problems: string[];
  /** Markdown for BENCHMARKS.md. */
  table: string[];
}

/** Per switch: the distinct signatures over its trials. */
async function perSwitch(o: SignaturesBenchOptions, table: string[], problems: string[]): Promise<Map<BugName, Set<string>>> {
  const bySwitch = new Map<BugName, Set<string>>();
  table.push('| switch | signatures (hits over all trials) | count |', '|---|---|---|');
  for (const sw of o.switches) {
    const sigs = new Map<string, number>();
    for (let i = 0; i < o.trials; i++) {
      const c = await campaign([sw], o.seed + i * 7919, o.budgetSec, o.workers);
      o.log(`  ${sw} trial ${i + 1}: ${c.execs} execs (${Math.round(c.execsPerSec)} execs/s), ${c.findings.map((f) => f.signature).join('; ') || 'nothing'}`);
      for (const f of c.findings) if (!c.offFindings.some((o) => o.startsWith(`${f.signature} (`))) sigs.set(f.signature, (sigs.get(f.signature) ?? 0) + f.count);
      for (const s of c.offFindings) problems.push(`${sw} trial ${i + 1}: ${s} fires with every switch off`);
    }
    bySwitch.set(sw, new Set(sigs.keys()));
    const cell = [...sigs].map(([s, n]) => `\`${s}\` (${n})`).join('<br>') || '—';
    table.push(`| ${sw} | ${cell} | ${sigs.size} |`);
    o.log(table[table.length - 1]!);
    if (sigs.size > 2) problems.push(`${sw}: ${sigs.size} signatures (more than 2)`);
  }
  return bySwitch;
}

/** Signatures two switches both gave. */
function shared(bySwitch: Map<BugName, Set<string>>): string[] {
  const owner = new Map<string, BugName[]>();
  for (const [sw, sigs] of bySwitch) for (const s of sigs) owner.set(s, [...(owner.get(s) ?? []), sw]);
  return [...owner].filter(([, sws]) => sws.length > 1).map(([s, sws]) => `${s} (${sws.join(', ')})`);
}

export async function benchSignatures(o: SignaturesBenchOptions): Promise<SignaturesBenchResult> {
  const problems: string[] = [];
  const table: string[] = [];
  const bySwitch = await perSwitch(o, table, problems);
  const counts = [...bySwitch.values()].map((s) => s.size);
  // A benign control must stay silent: it gives none, and counts as a switch with none.
  const buggy = o.switches.filter((s) => !BUG_SWITCHES.find((b) => b.name === s)!.benign);
  const avg = buggy.reduce((n, s) => n + bySwitch.get(s)!.size, 0) / Math.max(1, buggy.length);
  const both = shared(bySwitch);
  table.push('', `signatures per switch: ${avg.toFixed(2)} on average over the ${buggy.length} switches that are bugs ` +
    `(most: ${Math.max(0, ...counts)}); shared by two switches: ${both.length ? both.join('; ') : 'none'}`);
  if (avg > 1.2) problems.push(`${avg.toFixed(2)} signatures per switch on average (goal 1.2)`);
  for (const b of both) problems.push(`shared by two switches: ${b}`);
  for (const s of o.switches.filter((x) => BUG_SWITCHES.find((b) => b.name === x)!.benign)) {
    if (bySwitch.get(s)!.size > 0) problems.push(`${s} is a benign control, and gave ${[...bySwitch.get(s)!].join('; ')}`);
  }
  if (o.seedSec > 0) {
    const c = await campaign(SEED_SWITCHES, o.seed, o.seedSec, o.workers);
    table.push('', `The six seed switches together, ${o.seedSec} s, ${o.workers} worker${o.workers > 1 ? 's' : ''} ` +
      `(${c.execs} execs, ${Math.round(c.execsPerSec)} execs/s): ${c.findings.length} signatures`, '',
      '| signature | hits | switches it needs (attributed) |', '|---|---|---|');
    for (const f of c.findings) table.push(`| \`${f.signature}\` | ${f.count} | ${f.switches?.join(', ') || (f.switches ? 'none' : 'not attributed')} |`);
    if (c.findings.length > 8) problems.push(`the seed switches together: ${c.findings.length} signatures (goal 8)`);
  }
  return { ok: problems.length === 0, problems, table };
}

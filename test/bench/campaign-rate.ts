// Campaign throughput against another revision (`npm run bench --
// campaign-rate --base REV [--rounds N] [--max-execs N]`): the same embedded
// campaign (`foliofuzz fuzz --bugs seed --workers 1 --seed S --max-execs N
// --no-minimize`, which runs exactly N executions) with this tree's CLI and
// REV's, built in a temporary directory, alternately, N rounds; the medians
// of the execs/s each reports and their ratio. Unlike `--against`, it needs
// nothing of REV but its CLI, so REV may predate any bench section.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRevision } from './against.js';

export interface CampaignRateOptions {
  root: string;
  base: string;
  rounds: number;
  maxExecs: number;
  seed: number;
  log: (line: string) => void;
}

/** One campaign with a tree's CLI: its execs/s. */
function rate(treeDir: string, o: CampaignRateOptions): number {
  const store = mkdtempSync(join(tmpdir(), 'foliofuzz-rate-'));
  try {
    const cli = join(treeDir, 'dist', 'worker', 'cli', 'main.js');
    const args = ['fuzz', '--bugs', 'seed', '--workers', '1', '--seed', String(o.seed), '--max-execs', String(o.maxExecs), '--no-minimize',
      '--json', '--store', join(store, 's')];
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: store, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`${cli} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.slice(-500)}`);
    const doc = JSON.parse(r.stdout) as { execs: number; durationSec: number };
    return doc.execs / doc.durationSec;
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function benchCampaignRate(o: CampaignRateOptions): { ok: boolean; problems: string[] } {
  o.log(`command: npm run bench -- campaign-rate --base ${o.base} --rounds ${o.rounds} --max-execs ${o.maxExecs} --seed ${o.seed}`);
  o.log(`building ${o.base} in a temporary directory`);
  const baseDir = buildRevision({ root: o.root, rev: o.base, rounds: o.rounds, args: [], log: o.log });
  try {
    const trees = [{ name: o.base, dir: baseDir, rates: [] as number[] }, { name: 'this tree', dir: o.root, rates: [] as number[] }];
    for (let r = 0; r < o.rounds; r++) {
      for (const t of r % 2 === 0 ? trees : [...trees].reverse()) {
        t.rates.push(rate(t.dir, o));
        o.log(`round ${r + 1} ${t.name}: campaign ${Math.round(t.rates[t.rates.length - 1]!)} execs/s`);
      }
    }
    const [was, now] = [median(trees[0]!.rates), median(trees[1]!.rates)];
    o.log(`medians over ${o.rounds} rounds: ${o.base} ${Math.round(was)} execs/s -> this tree ${Math.round(now)} execs/s (${(now / was).toFixed(3)}x)`);
    return { ok: true, problems: [] };
  } finally {
    if (existsSync(baseDir)) rmSync(baseDir, { recursive: true, force: true });
  }
}

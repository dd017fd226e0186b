// `npm run bench -- SECTION... --against REV [--rounds N]`: the same sections
// on this tree and on REV, built in a temporary directory, run alternately in
// child processes in one session, so that both sides see the same machine
// (this machine is shared, and absolute figures drift between hours). Every
// rate a section prints ("N execs/s", "N commands/s") is collected per round;
// the medians and their ratio are reported.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface AgainstOptions {
  /** The repository root of this tree. */
  root: string;
  rev: string;
  rounds: number;
  /** What to pass to each tree's bench: sections and their options, without --against/--rounds. */
  args: string[];
  log: (line: string) => void;
}

const RATE = /([\d,]+) (execs\/s|commands\/s|programs\/s)/;

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).slice(-800)}`);
  return r.stdout;
}

/** Check REV out into a temporary directory and build it; its node_modules are this tree's when the lock files agree. */
export function buildRevision(o: AgainstOptions): string {
  const dir = mkdtempSync(join(tmpdir(), 'foliofuzz-against-'));
  run('git', ['clone', '--quiet', '--no-checkout', o.root, dir], o.root);
  run('git', ['checkout', '--quiet', o.rev], dir);
  const sameLock = readFileSync(join(o.root, 'package-lock.json'), 'utf8') === readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (sameLock) symlinkSync(join(o.root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  else run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
  run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], dir);
  return dir;
}

/** The rates a bench run printed, by the text before the rate on its line. */
function ratesOf(stdout: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = RATE.exec(line);
    if (!m) continue;
    const label = `${line.slice(0, m.index).replace(/[\d.]+ s\b/g, '').replace(/:?\s+$/, '').trim() || m[2]!}`;
    out.set(label, Number(m[1]!.replace(/,/g, '')));
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function benchAgainst(o: AgainstOptions): number {
  o.log(`building ${o.rev} in a temporary directory`);
  const base = buildRevision(o);
  try {
    const trees = [{ name: o.rev, dir: base }, { name: 'this tree', dir: o.root }];
    const samples = new Map<string, Map<string, number[]>>(trees.map((t) => [t.name, new Map()]));
    for (let r = 0; r < o.rounds; r++) {
      // Alternate which side goes first, so neither always meets the machine warmer.
      for (const t of r % 2 === 0 ? trees : [...trees].reverse()) {
        const stdout = run(process.execPath, [join(t.dir, 'dist', 'test', 'bench', 'main.js'), ...o.args], t.dir);
        const rates = ratesOf(stdout);
        o.log(`round ${r + 1} ${t.name}: ${[...rates].map(([k, v]) => `${k} ${v}`).join('; ')}`);
        for (const [k, v] of rates) {
          const m = samples.get(t.name)!;
          m.set(k, [...(m.get(k) ?? []), v]);
        }
      }
    }
    const head = samples.get('this tree')!;
    const was = samples.get(o.rev)!;
    o.log(`medians over ${o.rounds} rounds (${o.rev} -> this tree):`);
    for (const [k, vs] of head) {
      const old = was.get(k);
      const now = median(vs);
      o.log(old ? `  ${k}: ${median(old)} -> ${now}  (${(now / median(old)).toFixed(3)}x)` : `  ${k}: ${now} (not in ${o.rev})`);
    }
    return 0;
  } finally {
    if (existsSync(base)) rmSync(base, { recursive: true, force: true });
  }
}

// The twin benchmark (`npm run bench -- twin [--programs N] [--seed N]`):
// programs per second on the real kernel (the native executor, one process
// per program, one loop mount per config, files removed between programs)
// and in the sim (runProgram in process), on the same generated programs,
// fault-free (the twin cannot inject faults), in one run. Needs root.

import { runProgram } from '../../worker/exec/run.js';
import { generateProgram } from '../../worker/fuzz/generate.js';
import { FuzzRng } from '../../worker/fuzz/rng.js';
import type { Program } from '../../worker/prog/types.js';
import { forTwin } from '../../worker/twin/configs.js';
import { runOnKernel } from '../../worker/twin/executor.js';
import { describeSpec, provisionMount } from '../../worker/twin/provision.js';

export interface TwinBenchOptions {
  programs: number;
  seed: number;
  log: (line: string) => void;
}

/** Generated programs without injected faults, as the twin runs them (forTwin; a program with nothing left is skipped). */
export function faultFreePrograms(n: number, seed: number): Program[] {
  const out: Program[] = [];
  for (let i = 0; out.length < n; i++) {
    const p = generateProgram(new FuzzRng((seed * 1_000_003 + i) >>> 0));
    const twin = forTwin(p, { fs: p.config.fs, inode: p.config.inode, blockSize: p.config.blockSize });
    if (twin) out.push(twin);
  }
  return out;
}

function byConfig(programs: Program[]): Map<string, Program[]> {
  const out = new Map<string, Program[]>();
  for (const p of programs) {
    const k = describeSpec(p.config);
    out.set(k, [...(out.get(k) ?? []), p]);
  }
  return out;
}

const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en-US')} programs/s`;

export async function benchTwin(o: TwinBenchOptions): Promise<{ ok: boolean; problems: string[] }> {
  const programs = faultFreePrograms(o.programs, o.seed);
  o.log(`twin: ${programs.length} generated fault-free programs (seed ${o.seed}), by config:`);
  let simAll = 0;
  let kernelAll = 0;
  const problems: string[] = [];
  for (const [config, group] of byConfig(programs)) {
    const t0 = process.hrtime.bigint();
    for (const p of group) runProgram(p);
    const simSec = Number(process.hrtime.bigint() - t0) / 1e9;
    const mount = provisionMount(group[0]!.config);
    let kernelSec = 0;
    try {
      for (const p of group) {
        const t1 = process.hrtime.bigint();
        const r = await runOnKernel(p, { dir: mount.dir, ...(mount.owned ? { mount: mount.owned } : {}) });
        kernelSec += Number(process.hrtime.bigint() - t1) / 1e9;
        if (r.status !== 'done') problems.push(`${config}: the executor ${r.status}: ${r.stderr.slice(-200)}`);
        mount.clean();
      }
    } finally {
      mount.release();
    }
    simAll += simSec;
    kernelAll += kernelSec;
    o.log(`  ${config.padEnd(52)} ${String(group.length).padStart(4)}  kernel ${rate(group.length, kernelSec)}, sim ${rate(group.length, simSec)}`);
  }
  o.log(`  all: kernel ${rate(programs.length, kernelAll)}, sim ${rate(programs.length, simAll)} (sim/kernel ${(kernelAll / simAll).toFixed(1)}x)`);
  return { ok: problems.length === 0, problems };
}

// The `mixed` benchmark section (issue 19): the workload of mixed-workload.ts
// (every command the xfs_io importer accepts) run whole-process by the real
// xfs_io, on a file in the temporary directory's filesystem and, as root, on a
// loop-mounted xfs with 4 KiB blocks, and by `foliofuzz exec --xfs-io` once per
// --fs. Prints every rate in commands/s, each sim rate over each kernel rate
// (the issue's target: the sim at least 5 times the kernel's rate), and checks
// that every final file is identical to every other. A mismatch, or an error
// xfs_io reports that the workload does not expect, is a problem of the
// section, not an exception.

import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findXfsIo } from '../differential/real-xfs-io.js';
import { listMounts } from '../../worker/twin/mounts.js';
import { type TwinMount, provisionMount } from '../../worker/twin/provision.js';
import { generateMixedWorkload } from './mixed-workload.js';
import { firstDifference, rate, timeProcess } from './process-timing.js';

export interface MixedOptions {
  commands: number;
  seed: number;
  /** --fs values the CLI is run with. */
  fsList: string[];
  /** Also run xfs_io on a loop-mounted xfs (needs root; mounted and taken down here). */
  loopXfs: boolean;
  log: (line: string) => void;
}

interface Run {
  /** What ran where, for the report ("xfs_io on ext4 (/tmp)", "sim --fs xfs"). */
  label: string;
  seconds: number;
  data: Buffer;
}

interface Ctx {
  opts: MixedOptions;
  script: string;
  /** Commands per kind in the script. */
  counts: Map<string, number>;
  problems: string[];
}

const CLI = fileURLToPath(new URL('../../worker/cli/main.js', import.meta.url));
/** The issue's target: the sim's rate over the kernel's. */
const TARGET_RATIO = 5;

/** The type of the filesystem dir is on, from the deepest mount point above it. */
function fsTypeOf(dir: string): string {
  const path = realpathSync(dir);
  const above = listMounts().filter((m) => path === m.target || path.startsWith(m.target === '/' ? '/' : `${m.target}/`));
  above.sort((a, b) => b.target.length - a.target.length);
  return above[0]?.type ?? 'unknown';
}

/** stderr lines, counted. */
function countLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n').filter(Boolean)) out.set(line, (out.get(line) ?? 0) + 1);
  return out;
}

/**
 * The errors xfs_io should report on fsType: none, except that ext4 has no
 * FALLOC_FL_UNSHARE_RANGE, so every funshare and falloc -u fails there (and
 * changes nothing, in the sim's ext4 too).
 */
function expectedErrors(ctx: Ctx, fsType: string): Map<string, number> {
  const unshares = (ctx.counts.get('funshare') ?? 0) + (ctx.counts.get('falloc -u') ?? 0);
  return fsType === 'ext4' && unshares > 0 ? new Map([['fallocate: Operation not supported', unshares]]) : new Map();
}

function checkErrors(ctx: Ctx, label: string, fsType: string, stderr: string): void {
  const got = countLines(stderr);
  const want = expectedErrors(ctx, fsType);
  const shown = [...got].map(([line, n]) => `${n} x "${line}"`).join(', ');
  if (got.size > 0) ctx.opts.log(`    its errors: ${shown}`);
  const same = got.size === want.size && [...want].every(([line, n]) => got.get(line) === n);
  if (!same) ctx.problems.push(`${label} reported errors the workload does not expect on ${fsType}: ${shown.slice(0, 500)}`);
}

/** xfs_io -f FILE with the script on stdin, in dir; null (and a problem) when it did not run to the end. */
function runKernel(ctx: Ctx, dir: string, where: string): Run | null {
  const fsType = fsTypeOf(dir);
  const label = `xfs_io on ${fsType} (${where})`;
  const file = join(dir, 'mixed-file0');
  const t = timeProcess(findXfsIo(), ['-f', file], ctx.script);
  if (t.signal !== null || (t.status !== 0 && t.status !== 1)) {
    ctx.problems.push(`${label} ended with ${t.signal ?? `status ${t.status}`}: ${t.stderr.slice(-300)}`);
    return null;
  }
  const data = readFileSync(file);
  ctx.opts.log(`  ${label.padEnd(28)} ${t.seconds.toFixed(3)} s  ${rate(ctx.opts.commands, t.seconds)}  final size ${data.length}`);
  checkErrors(ctx, label, fsType, t.stderr);
  return { label, seconds: t.seconds, data };
}

/** The kernel on a loop-mounted xfs, 4 KiB blocks; the mount and loop device are taken down on every way out. */
function runKernelOnLoopXfs(ctx: Ctx): Run | null {
  if (process.getuid?.() !== 0) {
    ctx.opts.log('  (xfs_io on a loop-mounted xfs skipped: it needs root)');
    return null;
  }
  let mount: TwinMount;
  try {
    mount = provisionMount({ fs: 'xfs', inode: 'extent', blockSize: 4096 });
  } catch (err) {
    ctx.problems.push(`could not loop-mount an xfs: ${(err as Error).message}`);
    return null;
  }
  try {
    return runKernel(ctx, mount.dir, 'loop mount');
  } finally {
    mount.release();
  }
}

function runSim(ctx: Ctx, fs: string, dir: string): Run | null {
  const dump = join(dir, `dump-${fs}`);
  const label = `sim --fs ${fs}`;
  const t = timeProcess(process.execPath, [CLI, 'exec', '--xfs-io', ctx.script, '--fs', fs, '--dump-dir', dump]);
  if (t.status !== 0) {
    const tail = (t.stdout + t.stderr).trim().split('\n').slice(-5).join('\n    ');
    ctx.problems.push(`foliofuzz exec --fs ${fs} exited ${t.signal ?? t.status}:\n    ${tail}`);
    return null;
  }
  const file = join(dump, 'file0');
  if (!existsSync(file)) {
    ctx.problems.push(`foliofuzz exec --fs ${fs} wrote no ${file}`);
    return null;
  }
  const data = readFileSync(file);
  ctx.opts.log(`  ${label.padEnd(28)} ${t.seconds.toFixed(3)} s  ${rate(ctx.opts.commands, t.seconds)}  final size ${data.length}`);
  return { label, seconds: t.seconds, data };
}

/** Each sim rate over each kernel rate, and whether it meets the target. */
function logRatios(ctx: Ctx, kernels: Run[], sims: Run[]): void {
  for (const sim of sims) {
    for (const k of kernels) {
      const ratio = k.seconds / sim.seconds;
      const verdict = ratio >= TARGET_RATIO ? 'meets' : 'misses';
      ctx.opts.log(`  ${sim.label} / ${k.label}: ${ratio.toFixed(2)}x the kernel's rate (${verdict} the ${TARGET_RATIO}x target)`);
    }
  }
}

/** Every final file against the first kernel's; a difference is a problem. */
function compareFiles(ctx: Ctx, runs: Run[]): boolean {
  const [ref, ...rest] = runs;
  if (ref === undefined) return true;
  let same = true;
  for (const r of rest) {
    const d = firstDifference(ref.data, r.data);
    if (d < 0) {
      ctx.opts.log(`  ${r.label}: final file identical to ${ref.label}'s (${r.data.length} bytes)`);
      continue;
    }
    same = false;
    ctx.problems.push(`${r.label}: final file differs from ${ref.label}'s at offset ${d} ` +
      `(sizes ${ref.data.length} and ${r.data.length}); script kept at ${ctx.script}`);
  }
  return same;
}

function logMix(ctx: Ctx): void {
  const total = ctx.opts.commands;
  const parts = [...ctx.counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${((100 * n) / total).toFixed(1)}%`);
  ctx.opts.log(`  mix: ${parts.join(', ')}`);
}

export async function benchMixed(opts: MixedOptions): Promise<{ ok: boolean; problems: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'foliofuzz-bench-mixed-'));
  let keep = false;
  try {
    const { script, counts } = generateMixedWorkload(opts.seed, opts.commands);
    const ctx: Ctx = { opts, script: join(dir, 'mixed.xfs-io'), counts, problems: [] };
    writeFileSync(ctx.script, script);
    opts.log(`mixed: ${opts.commands.toLocaleString('en-US')} commands (seed ${opts.seed}), script ${ctx.script}`);
    logMix(ctx);
    const kernels = [runKernel(ctx, dir, tmpdir()), opts.loopXfs ? runKernelOnLoopXfs(ctx) : null]
      .filter((r): r is Run => r !== null);
    const sims = opts.fsList.map((fs) => runSim(ctx, fs, dir)).filter((r): r is Run => r !== null);
    logRatios(ctx, kernels, sims);
    keep = !compareFiles(ctx, [...kernels, ...sims]);
    return { ok: ctx.problems.length === 0, problems: ctx.problems };
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

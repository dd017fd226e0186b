// The filesystem configs a kernel campaign runs on, by name: `xfs:1024`,
// `ext4:4096`, `ext4-indirect:2048` (ext4 without extents), `fuse:4096` (our
// daemon over an ext4 of that block size). By default every one the sim has.

import { FAULT_OPS, TIMED_OPS } from '../prog/ops.js';
import { ProgramInputError } from '../prog/errors.js';
import type { Op, Program } from '../prog/types.js';
import { validateProgram } from '../prog/validate.js';
import type { FsSpec } from './provision.js';

const BLOCK_SIZES = [1024, 2048, 4096] as const;
const KINDS = ['xfs', 'ext4', 'ext4-indirect', 'fuse'] as const;
type KindName = (typeof KINDS)[number];

function specOf(kind: KindName, blockSize: number): FsSpec {
  if (kind === 'ext4-indirect') return { fs: 'ext4', inode: 'indirect', blockSize };
  return { fs: kind, inode: 'extent', blockSize };
}

/** A config's name: `ext4-indirect:1024`. */
export function configName(spec: FsSpec): string {
  const kind = spec.fs === 'ext4' && spec.inode === 'indirect' ? 'ext4-indirect' : spec.fs;
  return `${kind}:${spec.blockSize}`;
}

/** The filesystem part of a config's name (`ext4-indirect`): a divergence's site. */
export function fsName(spec: FsSpec): string {
  return configName(spec).split(':')[0]!;
}

export const ALL_TWIN_CONFIGS: readonly FsSpec[] = KINDS.flatMap((k) => BLOCK_SIZES.map((bs) => specOf(k, bs)));

/** `--configs xfs:1024,ext4:4096`: each a kind and a block size; bad input names what is wrong. */
export function parseTwinConfigs(list: string): FsSpec[] {
  const out: FsSpec[] = [];
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [kind, bs] = item.split(':');
    if (!KINDS.includes(kind as KindName)) throw new ProgramInputError(`--configs: '${item}': the filesystem is one of ${KINDS.join(', ')}`);
    const blockSize = Number(bs ?? NaN);
    if (!BLOCK_SIZES.includes(blockSize as (typeof BLOCK_SIZES)[number])) {
      throw new ProgramInputError(`--configs: '${item}': the block size is one of ${BLOCK_SIZES.join(', ')} (as in xfs:1024)`);
    }
    const spec = specOf(kind as KindName, blockSize);
    if (!out.some((s) => configName(s) === configName(spec))) out.push(spec);
  }
  if (out.length === 0) throw new ProgramInputError('--configs: no config given');
  return out;
}

/**
 * The program as the twin runs it on `spec`: that filesystem config, without
 * the injected faults the twin cannot do; `sequential`: its first thread
 * alone, without timed ops (a program the differential compares op by op).
 * Null when nothing is left or it no longer validates (an op referred to
 * what a dropped one made).
 */
export function forTwin(p: Program, spec: FsSpec, sequential = false): Program | null {
  const keep = (o: Op): boolean => !FAULT_OPS.has(o.op) && !(sequential && TIMED_OPS.has(o.op));
  const threads = p.threads.slice(0, sequential ? 1 : undefined).map((t) => ({ ops: t.ops.filter(keep) })).filter((t) => t.ops.length > 0);
  if (threads.length === 0) return null;
  try {
    return validateProgram({ ...p, config: { ...p.config, ...spec }, threads }, 'a program for the kernel twin');
  } catch (e) {
    if (e instanceof ProgramInputError) return null;
    throw e;
  }
}

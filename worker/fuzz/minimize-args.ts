// Argument simplifications for one op: offsets and lengths smaller and
// aligned (to the block, then the folio, then a power of two), fills to one
// value, bsize dropped, fault injection at the first I/O and without `short`,
// and a power cut or a remount replaced by what it may only have stood in
// for (dropping the page cache), which every export can express.

import type { Op, Program } from '../prog/types.js';
import { clone, type OpPos } from './minimize-edit.js';

/** A candidate edit of the current program, or null where it changes nothing. */
export type Edit = (p: Program) => Program | null;

const OFFSET_FIELDS = ['off', 'offIn', 'offOut', 'size'] as const;
const LENGTH_FIELDS = ['len'] as const;

function pow2Floor(v: number): number {
  return v < 1 ? 0 : 2 ** Math.floor(Math.log2(v));
}

/** Smaller values for a byte field, the simplest first. */
function smallerValues(v: number, p: Program, isLength: boolean): number[] {
  const { blockSize, folioMax } = p.config;
  const alignDown = (a: number): number => Math.floor(v / a) * a;
  const vals = isLength
    ? [blockSize, alignDown(blockSize), alignDown(folioMax), pow2Floor(v), Math.floor(v / 2)]
    : [0, alignDown(folioMax), alignDown(blockSize), pow2Floor(v)];
  return [...new Set(vals)].filter((x) => x < v && (x > 0 || !isLength));
}

function editField(pos: OpPos, field: string, value: number | undefined): Edit {
  return (p) => {
    const cur = (p.threads[pos.thread]!.ops[pos.index] as Record<string, unknown>)[field];
    if (cur === undefined || cur === value) return null;
    if (typeof cur === 'number' && typeof value === 'number' && value > cur) return null;
    const q = clone(p);
    const op = q.threads[pos.thread]!.ops[pos.index] as Record<string, unknown>;
    if (value === undefined) delete op[field];
    else op[field] = value;
    return q;
  };
}

function firstFill(p: Program): number | undefined {
  for (const t of p.threads) for (const op of t.ops) if ('fill' in op) return op.fill;
  return undefined;
}

/** Simpler ops that do part of what `op` does: a power cut and a remount both empty the page cache. */
function weakerOps(op: Op): Op[] {
  if (op.op === 'power_cut') return [{ op: 'drop_caches' }, { op: 'remount' }];
  if (op.op === 'remount') return [{ op: 'drop_caches' }];
  return [];
}

function replaceOp(pos: OpPos, by: Op): Edit {
  return (p) => {
    const q = clone(p);
    q.threads[pos.thread]!.ops[pos.index] = { ...by };
    return q;
  };
}

/** The edits to try for the op at `pos`; `faultsOnly` limits them to fail_bio. */
export function simplifyCandidates(p: Program, pos: OpPos, faultsOnly: boolean): Edit[] {
  const op: Op = p.threads[pos.thread]!.ops[pos.index]!;
  if (op.op === 'fail_bio') return faultsOnly ? [editField(pos, 'skip', 0), editField(pos, 'short', undefined)] : [];
  if (faultsOnly) return [];
  const rec = op as Record<string, unknown>;
  const edits: Edit[] = weakerOps(op).map((by) => replaceOp(pos, by));
  for (const f of OFFSET_FIELDS) {
    const v = rec[f];
    if (typeof v === 'number') for (const x of smallerValues(v, p, false)) edits.push(editField(pos, f, x));
  }
  for (const f of LENGTH_FIELDS) {
    const v = rec[f];
    if (typeof v === 'number') for (const x of smallerValues(v, p, true)) edits.push(editField(pos, f, x));
  }
  const fill = firstFill(p);
  if ('fill' in op && fill !== undefined && fill !== op.fill) {
    edits.push((q) => {
      const c = clone(q);
      (c.threads[pos.thread]!.ops[pos.index] as Record<string, unknown>)['fill'] = fill;
      return c;
    });
  }
  if ('bsize' in op && op.bsize !== undefined) edits.push(editField(pos, 'bsize', undefined));
  return edits;
}

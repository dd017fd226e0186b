// Argument simplifications for one op: offsets and lengths smaller and
// aligned (to the block, then the folio, then a power of two), fills to one
// value, bsize dropped, fault injection at the first I/O and without `short`,
// and a power cut or a remount replaced by what it may only have stood in
// for (dropping the page cache), which every export can express.

import { fieldsOfKind, isByteKind, opFields, opValues } from '../prog/ops.js';
import type { Op, Program } from '../prog/types.js';
import { cloneProgram } from '../prog/clone.js';
import type { OpPos } from './minimize-edit.js';

/** A candidate edit of the current program, or null where it changes nothing. */
export type Edit = (p: Program) => Program | null;

function pow2Floor(v: number): number {
  return v < 1 ? 0 : 2 ** Math.floor(Math.log2(v));
}

/**
 * Smaller values for a byte field, the simplest first: an offset or a size
 * may go to 0, a length stays above it (0 bytes is another op).
 */
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
    const q = cloneProgram(p);
    const op = q.threads[pos.thread]!.ops[pos.index] as Record<string, unknown>;
    if (value === undefined) delete op[field];
    else op[field] = value;
    return q;
  };
}

/** The fill byte of the program's first op that has one. */
function firstFill(p: Program): number | undefined {
  for (const t of p.threads) {
    for (const op of t.ops) {
      const f = fieldsOfKind(op.op, 'fill')[0];
      if (f !== undefined) return opValues(op)[f] as number;
    }
  }
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
    const q = cloneProgram(p);
    q.threads[pos.thread]!.ops[pos.index] = { ...by };
    return q;
  };
}

/** The edits to try for the op at `pos`; `faultsOnly` limits them to fail_bio. */
export function simplifyCandidates(p: Program, pos: OpPos, faultsOnly: boolean): Edit[] {
  const op: Op = p.threads[pos.thread]!.ops[pos.index]!;
  if (op.op === 'fail_bio') return faultsOnly ? [editField(pos, 'skip', 0), editField(pos, 'short', undefined)] : [];
  if (faultsOnly) return [];
  const values = opValues(op);
  const edits: Edit[] = weakerOps(op).map((by) => replaceOp(pos, by));
  // Offsets and sizes before lengths: the greedy passes keep what works first, so the order shapes the result.
  const fields = opFields(op.op);
  const positions = fields.filter((f) => isByteKind(f.kind) && f.kind !== 'length');
  for (const f of [...positions, ...fields.filter((x) => x.kind === 'length')]) {
    const v = values[f.name];
    if (typeof v === 'number') for (const x of smallerValues(v, p, f.kind === 'length')) edits.push(editField(pos, f.name, x));
  }
  const fill = firstFill(p);
  for (const f of fieldsOfKind(op.op, 'fill')) {
    if (fill === undefined || fill === values[f]) continue;
    edits.push((q) => {
      const c = cloneProgram(q);
      opValues(c.threads[pos.thread]!.ops[pos.index]!)[f] = fill;
      return c;
    });
  }
  for (const f of fieldsOfKind(op.op, 'bsize')) if (values[f] !== undefined) edits.push(editField(pos, f, undefined));
  return edits;
}

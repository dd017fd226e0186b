// syzkaller-style mutation of programs. Every mutator works on a copy and the
// result goes through repairProgram, which restores the validity rules
// (fd/file indexes exist, maps and iocbs referenced are defined, iocbs unique,
// AIO on a direct fd), so a mutant always validates.

import {
  definedId, fieldKind, fieldsOfKind, isAioSubmit, opValues, referencedId, rewriteRefs,
  type FieldKind, type IdSpace, type RefSpace,
} from '../prog/ops.js';
import { FALLOC_MODES, MMAP_PROTS, type FallocMode, type FdDecl, type Op, type Program, type Thread } from '../prog/types.js';
import { cloneOp, cloneProgram } from '../prog/clone.js';
import { validateProgram, BLOCK_SIZES } from '../prog/validate.js';
import { generateProgram, randomConfig, randomSchedule, threadOps } from './generate.js';
import { GEN_WEIGHTS, type GenOptions, OpGen, PAGE, SECTOR, WITH_SCENES } from './op-gen.js';
import { estimateSizes, interestingValues } from './interesting.js';
import type { FuzzRng } from './rng.js';

/** Mutants stay small: the sim runs them thousands of times a second. */
const MAX_OPS = 80;
const MAX_THREADS = 6;
const MAX_BYTES = 1 << 20;

type Mutator = (p: Program, rng: FuzzRng, corpus: readonly Program[], gen: GenOptions) => boolean;

function opCount(p: Program): number {
  return p.threads.reduce((n, t) => n + t.ops.length, 0);
}

function allOps(p: Program): Op[] {
  return p.threads.flatMap((t) => t.ops);
}

/** One past the largest id the ops define in `space`: 0 when they define none. */
function nextId(ops: readonly Op[], space: IdSpace): number {
  let next = 0;
  for (const op of ops) next = Math.max(next, (definedId(op, space) ?? -1) + 1);
  return next;
}

/** A generator primed with the program's maps and iocb numbering, to draw ops that fit into it. */
function opGenFor(p: Program, rng: FuzzRng, gen: GenOptions = WITH_SCENES): OpGen {
  const g = new OpGen(rng, p.config, p.fds, p.files.length, gen);
  const ops = allOps(p);
  for (const op of ops) if (op.op === 'mmap') g.maps.set(op.map, { fd: op.fd, off: op.off, len: op.len });
  g.nextMap = nextId(ops, 'map');
  g.nextIocb = nextId(ops, 'iocb');
  return g;
}

function randomThread(p: Program, rng: FuzzRng): Thread {
  return rng.pick(p.threads);
}

function nonEmptyThread(p: Program, rng: FuzzRng): Thread | null {
  const ts = p.threads.filter((t) => t.ops.length > 0);
  return ts.length ? rng.pick(ts) : null;
}

const insertOp: Mutator = (p, rng) => {
  if (opCount(p) >= MAX_OPS) return false;
  const ti = rng.int(p.threads.length);
  const ops = p.threads[ti]!.ops;
  const g = opGenFor(p, rng);
  const op = g.op(rng.weighted(GEN_WEIGHTS), ti);
  if (!op) return false;
  const at = rng.int(ops.length + 1);
  ops.splice(at, 0, op);
  // An AIO submit mostly gets its reap somewhere after it.
  if (isAioSubmit(op) && rng.chance(0.8)) {
    ops.splice(rng.range(at + 1, ops.length), 0, { op: 'aio_wait', iocb: op.iocb });
  }
  return true;
};

const removeOp: Mutator = (p, rng) => {
  const t = nonEmptyThread(p, rng);
  if (!t) return false;
  t.ops.splice(rng.int(t.ops.length), 1);
  return true;
};

const duplicateOp: Mutator = (p, rng) => {
  const t = nonEmptyThread(p, rng);
  if (!t || opCount(p) >= MAX_OPS) return false;
  const i = rng.int(t.ops.length);
  t.ops.splice(rng.range(i, t.ops.length), 0, cloneOp(t.ops[i]!));
  return true;
};

const swapOps: Mutator = (p, rng) => {
  const t = nonEmptyThread(p, rng);
  if (!t || t.ops.length < 2) return false;
  const i = rng.int(t.ops.length - 1);
  const j = rng.chance(0.6) ? i + 1 : rng.int(t.ops.length);
  [t.ops[i], t.ops[j]] = [t.ops[j]!, t.ops[i]!];
  return i !== j;
};

const moveOp: Mutator = (p, rng) => {
  const t = nonEmptyThread(p, rng);
  if (!t || t.ops.length < 2) return false;
  const [op] = t.ops.splice(rng.int(t.ops.length), 1);
  t.ops.splice(rng.int(t.ops.length + 1), 0, op!);
  return true;
};

const moveToThread: Mutator = (p, rng) => {
  if (p.threads.length < 2) return false;
  const from = nonEmptyThread(p, rng);
  const to = randomThread(p, rng);
  if (!from || from === to) return false;
  const [op] = from.ops.splice(rng.int(from.ops.length), 1);
  to.ops.splice(rng.int(to.ops.length + 1), 0, op!);
  return true;
};

const addThread: Mutator = (p, rng, _corpus, gen) => {
  if (p.threads.length >= MAX_THREADS || opCount(p) >= MAX_OPS) return false;
  const g = opGenFor(p, rng, gen);
  p.threads.push({ ops: threadOps(g, p.threads.length, rng.range(1, 6)) });
  if (!p.schedule || p.schedule.strategy === 'default') p.schedule = randomSchedule(rng, 2)!;
  return true;
};

const dropThread: Mutator = (p, rng) => {
  if (p.threads.length < 2) return false;
  p.threads.splice(rng.int(p.threads.length), 1);
  return true;
};

/** A new value for a byte field: an interesting value, a small step from the old one, or random. */
function mutateBytes(p: Program, rng: FuzzRng, old: number, eof: number): number {
  const bs = p.config.blockSize;
  switch (rng.int(3)) {
    case 0: return rng.pick(interestingValues(p.config, eof));
    case 1: {
      const step = rng.pick([1, SECTOR, bs, PAGE, p.config.folioMax]) * (rng.chance(0.5) ? 1 : -1);
      return Math.max(0, Math.min(MAX_BYTES, old + step));
    }
    default: {
      const v = rng.int(Math.max(4 * p.config.folioMax, 4 * PAGE));
      return rng.chance(0.6) ? Math.floor(v / bs) * bs : v;
    }
  }
}

type Value = number | boolean | string;
/** A new value for a field of one kind, given its old one and the estimated EOF of the op's file. */
type Draw = (p: Program, rng: FuzzRng, old: Value, eof: number) => Value;

const drawBytes: Draw = (p, rng, old, eof) => mutateBytes(p, rng, old as number, eof);

/** How mutateArg draws each kind; null: never drawn (map and iocb ids tie ops together; repair renumbers them). */
const DRAW: { [K in FieldKind]: Draw | null } = {
  offset: drawBytes,
  length: drawBytes,
  size: drawBytes,
  fd: (p, rng) => rng.int(p.fds.length),
  file: (p, rng) => rng.int(p.files.length),
  fill: (_p, rng) => rng.range(0, 255),
  bsize: (p, rng) => rng.pick([1, SECTOR, p.config.blockSize, PAGE, rng.range(1, 8192)]),
  count: (_p, rng) => rng.range(0, 3),
  seed: (_p, rng) => rng.int(2 ** 31),
  syncFlags: (_p, rng) => rng.int(8),
  fallocMode: (_p, rng) => rng.pick<FallocMode>(FALLOC_MODES),
  prot: (_p, rng) => rng.pick(MMAP_PROTS),
  bool: (_p, _rng, old) => !old,
  mapDef: null,
  mapRef: null,
  iocbDef: null,
  iocbRef: null,
};

/** How mutateArg draws a new value for the op's field `field`; null: not at all (`op`, ids). */
function drawFor(op: Op, field: string): Draw | null {
  const kind = fieldKind(op.op, field);
  return kind === undefined ? null : DRAW[kind];
}

/** The estimated EOF of the file of the op's (first) fd before op i of t; 0 for an op without an fd. */
function eofBefore(p: Program, t: Thread, i: number): number {
  const op = t.ops[i]!;
  const fdField = fieldsOfKind(op.op, 'fd')[0];
  if (fdField === undefined) return 0;
  const fileOfFd = p.fds.map((d) => d.file);
  const fd = opValues(op)[fdField] as number;
  return estimateSizes(fileOfFd, p.files.length, t.ops.slice(0, i))[fileOfFd[fd] ?? 0] ?? 0;
}

const mutateArg: Mutator = (p, rng) => {
  const t = nonEmptyThread(p, rng);
  if (!t) return false;
  const i = rng.int(t.ops.length);
  const op = t.ops[i]!;
  const values = opValues(op) as Record<string, Value>;
  // The fields this op has, in its own key order; ids are left alone.
  const fields = Object.keys(values).filter((k) => drawFor(op, k) !== null);
  if (fields.length === 0) return false;
  const f = rng.pick(fields);
  const old = values[f]!;
  values[f] = drawFor(op, f)!(p, rng, old, eofBefore(p, t, i));
  return values[f] !== old;
};

/** Copy `src`'s ops into p's id spaces: fds and files appended, map and iocb ids shifted past p's. */
function importOps(p: Program, src: Program, ops: readonly Op[]): Op[] {
  const fileBase = p.files.length;
  const fdBase = p.fds.length;
  const names = new Set(p.files.map((f) => f.name));
  for (const f of src.files) {
    let name = f.name;
    for (let k = 0; names.has(name); k++) name = `${f.name}.${k}`;
    names.add(name);
    p.files.push({ name });
  }
  for (const d of src.fds) p.fds.push({ file: d.file + fileBase, direct: d.direct });
  const all = allOps(p);
  const base: Record<RefSpace, number> = { fd: fdBase, file: fileBase, map: nextId(all, 'map'), iocb: nextId(all, 'iocb') };
  return ops.map((o) => {
    const op = cloneOp(o);
    rewriteRefs(op, (space, v) => v + base[space]);
    return op;
  });
}

const splice: Mutator = (p, rng, corpus, gen) => {
  const other = corpus.length > 0 && rng.chance(0.8) ? rng.pick(corpus) : generateProgram(rng, gen);
  if (rng.chance(0.5)) {
    // A prefix of p's threads and a suffix of the other's.
    const keep = rng.range(1, p.threads.length);
    const from = rng.int(other.threads.length);
    const suffix = other.threads.slice(from);
    const ops = importOps(p, other, suffix.flatMap((t) => t.ops));
    let k = 0;
    const threads = suffix.map((t) => ({ ops: ops.slice(k, (k += t.ops.length)) }));
    p.threads = p.threads.slice(0, keep).concat(threads).slice(0, MAX_THREADS);
    if (p.threads.length > 1 && (!p.schedule || p.schedule.strategy === 'default')) p.schedule = randomSchedule(rng, 2)!;
    return true;
  }
  // A slice of the other's ops inserted into one of p's threads.
  const src = nonEmptyThread(other, rng);
  if (!src) return false;
  const a = rng.int(src.ops.length);
  const b = rng.range(a + 1, Math.min(src.ops.length, a + 8));
  const ops = importOps(p, other, src.ops.slice(a, b));
  const t = randomThread(p, rng);
  t.ops.splice(rng.int(t.ops.length + 1), 0, ...ops);
  return true;
};

const mutateConfig: Mutator = (p, rng) => {
  const c = p.config;
  switch (rng.int(4)) {
    case 0: {
      const n = randomConfig(rng);
      c.fs = n.fs;
      c.inode = n.inode;
      break;
    }
    case 1: c.inode = c.fs === 'ext4' ? (c.inode === 'extent' ? 'indirect' : 'extent') : 'extent'; break;
    case 2: c.blockSize = rng.pick(BLOCK_SIZES); break;
    default: c.folioMax = rng.pick([4096, 8192, 16384, 32768, 65536]); break;
  }
  if (c.fs !== 'ext4') c.inode = 'extent';
  return true;
};

const mutateSchedule: Mutator = (p, rng) => {
  const s = p.schedule ?? { strategy: 'random', seed: 0, depth: 1, decisions: [] };
  switch (rng.int(3)) {
    case 0: s.strategy = rng.pick(['default', 'random', 'pct'] as const); break;
    case 1: s.seed = rng.int(2 ** 31); break;
    default: s.depth = rng.range(1, 4); break;
  }
  s.decisions = [];
  if (s.strategy === 'default') delete p.schedule;
  else p.schedule = s;
  return true;
};

const addFault: Mutator = (p, rng) => {
  if (opCount(p) >= MAX_OPS) return false;
  const t = randomThread(p, rng);
  const op: Op = { op: 'fail_bio', write: rng.chance(0.75), skip: rng.chance(0.6) ? 0 : rng.range(1, 3) };
  if (op.write && rng.chance(0.3)) op.short = true;
  t.ops.splice(rng.int(t.ops.length + 1), 0, op);
  return true;
};

const dropFault: Mutator = (p, rng) => {
  const places: [Thread, number][] = [];
  for (const t of p.threads) t.ops.forEach((op, i) => op.op === 'fail_bio' && places.push([t, i]));
  if (places.length === 0) return false;
  const [t, i] = rng.pick(places);
  t.ops.splice(i, 1);
  return true;
};

const TABLE: Record<string, Mutator> = {
  insertOp, removeOp, duplicateOp, swapOps, moveOp, moveToThread, addThread, dropThread,
  mutateArg, splice, mutateConfig, mutateSchedule, addFault, dropFault,
};

export const MUTATORS: readonly string[] = Object.keys(TABLE);

const MUTATOR_WEIGHTS: readonly (readonly [string, number])[] = [
  ['insertOp', 10], ['removeOp', 5], ['duplicateOp', 3], ['swapOps', 4], ['moveOp', 3], ['moveToThread', 3],
  ['addThread', 2], ['dropThread', 1.5], ['mutateArg', 14], ['splice', 3], ['mutateConfig', 2],
  ['mutateSchedule', 3], ['addFault', 2], ['dropFault', 1],
];

/**
 * The same program under a new interleaving: a fresh seed for its strategy
 * (random or PCT when it had neither), its ops untouched.
 */
export function reschedule(p: Program, rng: FuzzRng): Program {
  const q = cloneProgram(p);
  const old = q.schedule;
  const strategy = old?.strategy === 'random' || old?.strategy === 'pct' ? old.strategy : rng.pick(['random', 'pct'] as const);
  q.schedule = { strategy, seed: rng.int(2 ** 31), depth: old?.depth ?? rng.range(1, 4), decisions: [] };
  return validateProgram(q, 'mutant');
}

/** Make a mutated copy valid: indexes in range, references defined, iocbs unique, AIO on a direct fd. */
export function repairProgram(p: Program): Program {
  if (p.files.length === 0) p.files.push({ name: 'f0' });
  if (p.fds.length === 0) p.fds.push({ file: 0, direct: false });
  for (const d of p.fds) d.file %= p.files.length;
  let directFd = p.fds.findIndex((d: FdDecl) => d.direct);
  const maps = new Set<number>();
  const iocbs = new Set<number>();
  let nextIocb = nextId(allOps(p), 'iocb');
  for (const op of allOps(p)) {
    rewriteRefs(op, (space, v) => (space === 'fd' ? v % p.fds.length : space === 'file' ? v % p.files.length : v));
    const map = definedId(op, 'map');
    if (map !== undefined) maps.add(map);
    if (isAioSubmit(op)) {
      if (!p.fds[op.fd]!.direct) {
        if (directFd < 0) directFd = p.fds.push({ file: p.fds[op.fd]!.file, direct: true }) - 1;
        op.fd = directFd;
      }
      if (iocbs.has(op.iocb)) op.iocb = nextIocb++;
      iocbs.add(op.iocb);
    }
  }
  // An op whose map or iocb no op defines any more goes.
  for (const t of p.threads) {
    t.ops = t.ops.filter((op) => {
      const map = referencedId(op, 'map');
      if (map !== undefined) return maps.has(map);
      const iocb = referencedId(op, 'iocb');
      if (iocb !== undefined) return iocbs.has(iocb);
      return true;
    });
  }
  if (p.threads.length > 1) p.threads = p.threads.filter((t) => t.ops.length > 0);
  if (p.threads.length === 0) p.threads.push({ ops: [] });
  return validateProgram(p, 'mutant');
}

/** Apply the named mutator to a copy of p; null when it does not apply (or changed nothing). */
export function mutateWith(name: string, p: Program, rng: FuzzRng, corpus: readonly Program[], gen: GenOptions = WITH_SCENES): Program | null {
  const m = TABLE[name];
  if (!m) throw new Error(`unknown mutator ${name}`);
  const q = cloneProgram(p);
  if (!m(q, rng, corpus, gen)) return null;
  return repairProgram(q);
}

/** A mutated copy of p (p itself is left alone): one mutator, sometimes a few in a row. */
export function mutateProgram(p: Program, rng: FuzzRng, corpus: readonly Program[], gen: GenOptions = WITH_SCENES): Program {
  let q = p;
  const rounds = rng.chance(0.7) ? 1 : rng.range(2, 4);
  for (let i = 0, tries = 0; i < rounds && tries < 50; tries++) {
    const next = mutateWith(rng.weighted(MUTATOR_WEIGHTS), q, rng, corpus, gen);
    if (next) {
      q = next;
      i++;
    }
  }
  return q === p ? repairProgram(cloneProgram(p)) : q;
}

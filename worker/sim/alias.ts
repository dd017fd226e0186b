// Alias coverage, after KRACE (Xu et al., S&P 2020): which pairs of code sites
// touched the same kernel object from two different contexts, at least one of
// them changing it. Line coverage saturates long before the races do: every
// site of a truncate racing a fault is reached by each op alone. A pair is new
// only when two threads (or a thread and a completion) actually met on one
// folio, one i_size, one extent map, so a program that reaches a new pair is
// one step closer to a race, and the corpus keeps it.
//
// An object carries an AliasCell: the last write and the last read, each with
// its site and context. A read after another context's write is a def-use
// pair; a write after another context's read or write is an anti or output
// dependency. The pair lands in covMap (cov.ts), in a region of its own past
// the site and switch points: the fuzzer and the wire see one map, and the
// corpus can tell a program that made two contexts meet.
//
// A site is the accessor's id mixed with where the running context is: its
// outermost frame (the syscall, or the kernel thread or completion's name)
// and its innermost one. "folio_mark_uptodate in ksys_pread64" and the same
// in a completion are different sites, as two instruction addresses are in
// KRACE. The scheduler says who runs (aliasRunning); nothing here reads the
// scheduler, so the hot path is a few compares and one store.

import { ALIAS_BASE, ALIAS_MAP_BITS, covMap, covSite } from './cov.js';

export interface AliasCell {
  wSite: number;
  /** The context of the last write; -1 when nothing wrote yet. */
  wCtx: number;
  rSite: number;
  rCtx: number;
}

export function aliasCell(): AliasCell {
  return { wSite: 0, wCtx: -1, rSite: 0, rCtx: -1 };
}

/** The context of completions (bio end_io, fuse replies): one context apart from every thread. */
const ALIAS_EVENT_CTX = 1 << 20;
/** No context: between runs, and while a run sets its machine up before any thread runs. */
const NO_CTX = -1;

const NO_FRAMES: readonly string[] = [];
let enabled = false;
let ctx = NO_CTX;
let frames: readonly string[] = NO_FRAMES;
let ctxName = '';

const whereIds = new Map<string, number>();

function whereId(name: string): number {
  let id = whereIds.get(name);
  if (id === undefined) whereIds.set(name, (id = covSite(name)));
  return id;
}

/**
 * A context's last outer and inner frame names and their ids: a context
 * touches many objects from one place, and the contexts take turns, so each
 * keeps its own, and the map lookups are rare.
 */
interface WhereCache {
  outerName: string;
  outerId: number;
  innerName: string;
  innerId: number;
}

function whereCache(): WhereCache {
  return { outerName: '', outerId: whereId(''), innerName: '', innerId: whereId('') };
}

const threadWhere: WhereCache[] = [];
const eventWhere = whereCache();
let where = eventWhere;

/**
 * Alias coverage on or off for the runs that follow: off until asked (the
 * fuzzer's executor asks, unless `--no-alias-coverage`); the sim runs the
 * same either way.
 */
export function aliasCoverage(on: boolean): void {
  enabled = on;
}

/**
 * Who runs from now on: a thread (its id, its live frame stack and name) or
 * a completion (ALIAS_EVENT_CTX, no frames, the event's name).
 */
export function aliasRunning(id: number, stack: readonly string[], name: string): void {
  ctx = id;
  where = id === ALIAS_EVENT_CTX ? eventWhere : (threadWhere[id] ??= whereCache());
  frames = stack;
  ctxName = name;
}

/** A completion runs (its own context, named by the event). */
export function aliasEvent(name: string): void {
  aliasRunning(ALIAS_EVENT_CTX, NO_FRAMES, name);
}

/** Between runs: nobody runs, and nothing is recorded until a thread does. */
export function aliasReset(): void {
  ctx = NO_CTX;
  frames = NO_FRAMES;
  ctxName = '';
}

/** The accessor's site where the current context is. */
function siteHere(site: number): number {
  const n = frames.length;
  const outer = n === 0 ? ctxName : frames[0]!;
  const inner = n === 0 ? ctxName : frames[n - 1]!;
  const w = where;
  if (outer !== w.outerName) w.outerId = whereId((w.outerName = outer));
  if (inner !== w.innerName) w.innerId = whereId((w.innerName = inner));
  return site ^ w.outerId ^ Math.imul(w.innerId, 31);
}

function notePair(from: number, to: number, kind: number): void {
  covMap[ALIAS_BASE + ((Math.imul(from ^ 0x2545f491, 0x9e3779b1) ^ Math.imul(to, 0x85ebca6b) ^ kind) >>> (32 - ALIAS_MAP_BITS))] = 1;
}

/** The object of `cell` is read at `site`. */
export function aliasRead(cell: AliasCell, site: number): void {
  if (!enabled || ctx === NO_CTX) return;
  const here = siteHere(site);
  if (cell.wCtx >= 0 && cell.wCtx !== ctx) notePair(cell.wSite, here, 0);
  cell.rSite = here;
  cell.rCtx = ctx;
}

/** The object of `cell` is changed at `site`. */
export function aliasWrite(cell: AliasCell, site: number): void {
  if (!enabled || ctx === NO_CTX) return;
  const here = siteHere(site);
  if (cell.wCtx >= 0 && cell.wCtx !== ctx) notePair(cell.wSite, here, 1);
  if (cell.rCtx >= 0 && cell.rCtx !== ctx) notePair(cell.rSite, here, 2);
  cell.wSite = here;
  cell.wCtx = ctx;
}

// The mutation operators of the mutation benchmark (issue 19,
// test/bench/mutants.ts): where a compiled JavaScript file of worker/sim can be
// broken, found on the TypeScript compiler's syntax tree (not with regexes, so
// a `<` in a string or a comment is never a site), and the text of a mutant.
//
// The compiled JavaScript is mutated, not the TypeScript source, so that no
// mutant needs a compiler run: a mutant is one file of a copy of dist/ with
// one span of text replaced. Five operators, after the faults that storage
// code really has:
//   stmt-delete  an expression statement that changes state goes: a property
//                or element assignment (`f.size = n`, `a[i] += 1`, `x.n++`) or
//                a call whose result is dropped (it was called for its effect)
//   negate-if    an if's condition is negated
//   bound        a relational bound moves by one: `<` <-> `<=`, `>` <-> `>=`
//   lock-drop    a lock or unlock call statement goes (folioLock/folioUnlock,
//                downRead/upRead, downWrite/upWrite, a mutex's lock/unlock)
//   flag-drop    a flag or bit update goes: `|=`, `&=`, `^=` statements and
//                calls that set, clear or mark a flag (folioMarkUptodate,
//                iomapSetRangeDirty, folioEndWriteback, mappingSetError, ...)
// A statement is one operator's site only: a lock call is lock-drop, a flag
// update flag-drop, anything else stmt-delete.
//
// The oracle's own code is never mutated: coverage points, provenance records,
// the checks that report violations and lockdep's bookkeeping change what is
// observed, not what the simulated kernel does, so deleting them can only hide
// findings (an equivalent mutant for a campaign with every switch off). For the
// same reason an if whose condition reads a bug switch (`bugs.has(...)`) is
// left alone: negating it would turn on a seeded bug, which the fuzz benchmark
// measures already.
//
// A site's id is `file:line:column:operator` in the JavaScript (1-based), so
// the same tree gives the same sites in the same order, and a seed draws the
// same sample.

import ts from 'typescript';
import { Rng } from '../differential/rng.js';

export type MutationOperator = 'stmt-delete' | 'negate-if' | 'bound' | 'lock-drop' | 'flag-drop';

export const OPERATORS: readonly MutationOperator[] = ['stmt-delete', 'negate-if', 'bound', 'lock-drop', 'flag-drop'];

export interface MutationSite {
  /** `file:line:column:operator`, stable for a given compiled tree. */
  id: string;
  file: string;
  /** 1-based line and column of the replaced text in the JavaScript file. */
  line: number;
  column: number;
  operator: MutationOperator;
  /** The replaced span [start, end) of the file's text, and what replaces it. */
  start: number;
  end: number;
  replacement: string;
  /** The replaced text, on one line (for logs and tables). */
  original: string;
}

/** Calls that observe or check the simulation without changing it (see the header). */
const INSTRUMENTATION = new Set([
  'cov', 'covState', 'covSwitch', 'provenance', 'prov', 'violation', 'warn', 'warnOn', 'jAssert',
  'lockAcquire', 'lockRelease', 'noteDirtyLoss', 'noteDirtyBlocksLeft', 'console',
]);

/** Lock and unlock calls: folioLock, folioUnlock, downRead, upWrite, a mutex's lock/unlock. */
const LOCK_CALL = /^(?:\w*[a-z])?(?:Lock|Unlock)$|^(?:lock|unlock)$|^(?:down|up)(?:Read|Write)$/;

/** Calls that set, clear or mark a flag, and the dirtying helpers. */
const FLAG_CALL = /(?:Set|Clear|Mark|Cancel|Start|End|^set|^clear|^mark)\w*(?:Uptodate|Dirty|Error|Writeback|Nowrite|Read)|DirtyFolio$/;

const BIT_ASSIGN = new Set([ts.SyntaxKind.BarEqualsToken, ts.SyntaxKind.AmpersandEqualsToken, ts.SyntaxKind.CaretEqualsToken]);

const BOUND_SWAP = new Map<ts.SyntaxKind, string>([
  [ts.SyntaxKind.LessThanToken, '<='],
  [ts.SyntaxKind.LessThanEqualsToken, '<'],
  [ts.SyntaxKind.GreaterThanToken, '>='],
  [ts.SyntaxKind.GreaterThanEqualsToken, '>'],
]);

/** `yield* f()`, `await f()`, `(f())`, `void f()`: the expression inside. */
function unwrap(e: ts.Expression): ts.Expression {
  if (ts.isYieldExpression(e) && e.expression) return unwrap(e.expression);
  if (ts.isAwaitExpression(e) || ts.isParenthesizedExpression(e) || ts.isVoidExpression(e)) return unwrap(e.expression);
  return e;
}

/** The called name: `f` in `f(x)`, `upWrite` in `inode.iRwsem.upWrite(s)`. */
function calleeName(call: ts.CallExpression): string | null {
  const c = call.expression;
  if (ts.isIdentifier(c)) return c.text;
  if (ts.isPropertyAccessExpression(c)) return c.name.text;
  return null;
}

/** The leftmost name of a callee chain: `provenance` in `provenance()?.mark(...)`. */
function calleeRoot(e: ts.Expression): string | null {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e) || ts.isCallExpression(e)) return calleeRoot(e.expression);
  return null;
}

const isAssignment = (k: ts.SyntaxKind): boolean => k >= ts.SyntaxKind.FirstAssignment && k <= ts.SyntaxKind.LastAssignment;
const isMemberTarget = (e: ts.Expression): boolean => ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e);

/** Which deletion operator an expression statement is a site of, or null when it is none. */
export function statementOperator(stmt: ts.ExpressionStatement): MutationOperator | null {
  const e = unwrap(stmt.expression);
  if (ts.isCallExpression(e)) {
    const name = calleeName(e);
    const root = calleeRoot(e.expression);
    if ((name !== null && INSTRUMENTATION.has(name)) || (root !== null && INSTRUMENTATION.has(root))) return null;
    if (name !== null && LOCK_CALL.test(name)) return 'lock-drop';
    if (name !== null && FLAG_CALL.test(name)) return 'flag-drop';
    return 'stmt-delete';
  }
  if (ts.isBinaryExpression(e) && isAssignment(e.operatorToken.kind)) {
    if (BIT_ASSIGN.has(e.operatorToken.kind)) return 'flag-drop';
    return isMemberTarget(e.left) ? 'stmt-delete' : null;
  }
  if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) &&
    (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken)) {
    return isMemberTarget(e.operand) ? 'stmt-delete' : null;
  }
  if (ts.isDeleteExpression(e)) return 'stmt-delete';
  return null;
}

/** A function of the oracle's (noteDirtyLoss, warn, ...): nothing in it is a site. */
function isInstrumentationFunction(node: ts.Node): boolean {
  return (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) &&
    node.name !== undefined && ts.isIdentifier(node.name) && INSTRUMENTATION.has(node.name.text);
}

const readsBugSwitch = (n: ts.Node, sf: ts.SourceFile): boolean => /\bbugs\s*\.\s*has\s*\(/.test(n.getText(sf));

/** Every site of `text` (the JavaScript of `file`), in the order of the text. */
export function enumerateSites(file: string, text: string): MutationSite[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const sites: MutationSite[] = [];
  const add = (operator: MutationOperator, start: number, end: number, replacement: string): void => {
    const { line, character } = sf.getLineAndCharacterOfPosition(start);
    const original = text.slice(start, end).replace(/\s+/g, ' ');
    sites.push({ id: `${file}:${line + 1}:${character + 1}:${operator}`, file, line: line + 1, column: character + 1, operator, start, end, replacement, original });
  };
  const visit = (node: ts.Node): void => {
    if (isInstrumentationFunction(node)) return;
    if (ts.isExpressionStatement(node)) {
      const op = statementOperator(node);
      if (op !== null) add(op, node.getStart(sf), node.getEnd(), ';');
    } else if (ts.isIfStatement(node) && !readsBugSwitch(node.expression, sf)) {
      const c = node.expression;
      add('negate-if', c.getStart(sf), c.getEnd(), `!(${c.getText(sf)})`);
    } else if (ts.isBinaryExpression(node) && BOUND_SWAP.has(node.operatorToken.kind) && !readsBugSwitch(node, sf)) {
      const t = node.operatorToken;
      add('bound', t.getStart(sf), t.getEnd(), BOUND_SWAP.get(t.kind)!);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return sites.sort((a, b) => a.start - b.start || OPERATORS.indexOf(a.operator) - OPERATORS.indexOf(b.operator));
}

/** The mutant's text: the site's span replaced. */
export function applySite(text: string, site: MutationSite): string {
  return text.slice(0, site.start) + site.replacement + text.slice(site.end);
}

/**
 * `n` sites drawn by `seed`, the operators taking turns (each operator's sites
 * shuffled), so that a small sample has every operator in it rather than
 * mostly deletions and bounds, which have the most sites. Deterministic in
 * the list and the seed.
 */
export function sampleSites(sites: readonly MutationSite[], n: number, seed: number): MutationSite[] {
  const rng = new Rng(seed);
  const pools = OPERATORS.map((op) => {
    const pool = sites.filter((s) => s.operator === op);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool;
  });
  const out: MutationSite[] = [];
  for (let round = 0; out.length < n && pools.some((p) => p.length > round); round++) {
    for (const pool of pools) if (round < pool.length && out.length < n) out.push(pool[round]!);
  }
  return out;
}

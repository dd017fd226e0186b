// The import graph of the source tree: no module may import itself back
// through others (a cycle makes load order matter and layers meaningless),
// and the simulator imports nothing from the layers built on it (exec, fuzz,
// the cluster, the exporters, the command line, the coordinator).
//
// Plain TypeScript: every .ts file under worker/, coordinator/ and corpus/ is
// read, its relative imports resolved (`import ... from`, `import type`,
// `export ... from`, a bare `import './x.js'`), and the graph searched with
// Tarjan's strongly connected components. Type-only imports count: a type
// cycle is a layering cycle too, even though it costs nothing at run time.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SOURCE_DIRS = ['worker', 'coordinator', 'corpus'];

/** Module path (repo-relative, '/'-separated) -> the modules it imports. */
type ImportGraph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * The module specifiers a file imports or re-exports statically. A statement
 * starts a line (so text inside comments and strings that merely mentions an
 * import does not count) and runs to its `from` without crossing a `;`.
 */
function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  const fromRe = /^[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm;
  const bareRe = /^[ \t]*import\s*['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(fromRe)) out.push(m[1]!);
  for (const m of text.matchAll(bareRe)) out.push(m[1]!);
  return out;
}

/** The repo-relative .ts module a relative specifier names, or null (a package, or outside the set). */
function resolveSpecifier(fromFile: string, spec: string, known: ReadonlySet<string>): string | null {
  if (!spec.startsWith('.')) return null;
  const base = relative(ROOT, resolve(ROOT, dirname(fromFile), spec)).split('\\').join('/');
  const candidates = base.endsWith('.js') ? [base.slice(0, -3) + '.ts'] : [base, base + '.ts', base + '/index.ts'];
  return candidates.find((c) => known.has(c)) ?? null;
}

function buildGraph(): ImportGraph {
  const files = SOURCE_DIRS.flatMap((d) => sourceFiles(join(ROOT, d))).map((f) => relative(ROOT, f).split('\\').join('/'));
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const f of files) {
    const deps = new Set<string>();
    for (const spec of importSpecifiers(readFileSync(join(ROOT, f), 'utf8'))) {
      const target = resolveSpecifier(f, spec, known);
      if (target !== null) deps.add(target);
    }
    graph.set(f, [...deps].sort());
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one module, or a module importing itself. */
function cyclicComponents(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const comp: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** One concrete cycle inside a component, as a path that ends where it starts. */
function cycleIn(graph: ImportGraph, comp: readonly string[]): string[] {
  const inComp = new Set(comp);
  const start = comp[0]!;
  // Breadth-first from start's successors back to start, staying inside the component: a shortest cycle.
  const prev = new Map<string, string>();
  const queue: string[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) path.push(u);
        path.push(start);
        return path.reverse();
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...comp];
}

function describeCycles(graph: ImportGraph): string[] {
  return cyclicComponents(graph).map((comp) => `cycle through ${comp.length} module${comp.length === 1 ? '' : 's'}: ${cycleIn(graph, comp).join(' -> ')}`);
}

test('the import graph has no cycles (worker/, coordinator/, corpus/)', () => {
  const graph = buildGraph();
  assert.ok(graph.size > 100, `only ${graph.size} modules found under ${SOURCE_DIRS.join(', ')}: is ROOT right?`);
  assert.ok(graph.get('worker/sim/kernel.ts')?.includes('worker/sim/sched.ts'), 'the import parser missed a known import');
  assert.deepEqual(describeCycles(graph), []);
});

test('worker/sim imports nothing from the layers above it', () => {
  const above = ['worker/exec/', 'worker/fuzz/', 'worker/cluster/', 'worker/repro/', 'worker/cli/', 'coordinator/'];
  const graph = buildGraph();
  const bad: string[] = [];
  for (const [from, deps] of graph) {
    if (!from.startsWith('worker/sim/')) continue;
    for (const d of deps) if (above.some((a) => d.startsWith(a))) bad.push(`${from} -> ${d}`);
  }
  assert.deepEqual(bad, []);
});

test('the checker: import forms it reads, and a cycle it names', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from '../b.js';",
    'import {',
    '  c,',
    '  type D,',
    "} from './c.js';",
    "export { e } from './e.js';",
    "export * from './f.js';",
    "import './side-effect.js';",
    "import x from 'node:fs';",
    "// import { not } from './comment.js';",
    " * import { notEither } from './doc.js';",
    "const s = \"import { str } from './string.js'\";",
  ].join('\n');
  assert.deepEqual(importSpecifiers(text).sort(), ['../b.js', './a.js', './c.js', './e.js', './f.js', './side-effect.js', 'node:fs'].sort());
  const g: ImportGraph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts', 'd.ts']],
    ['d.ts', []],
    ['e.ts', ['e.ts']],
  ]);
  assert.deepEqual(describeCycles(g), ['cycle through 3 modules: a.ts -> b.ts -> c.ts -> a.ts', 'cycle through 1 module: e.ts -> e.ts']);
  assert.deepEqual(describeCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
});

// Read every file under deploy/ into memory, YAML and JSON parsed. The checks
// work on this tree rather than on the disk, so a test can break a reference
// in a copy and see the checks notice.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export interface ParsedFile {
  kind: 'yaml' | 'json' | 'other';
  text: string;
  /** One per YAML document (null for an empty one); one for JSON. */
  docs: unknown[];
  errors: string[];
}

export interface DeployTree {
  /** The repository root (absolute). */
  root: string;
  /** Path relative to the root, with '/' separators (deploy/...), -> file. */
  files: Map<string, ParsedFile>;
}

/** The repository root: the nearest ancestor holding deploy/ and package.json. */
export function findRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'deploy')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the repository root (deploy/ and package.json) above ${start}`);
  }
}

export function parseFile(path: string, text: string): ParsedFile {
  if (/\.ya?ml$/.test(path)) {
    const docs = parseAllDocuments(text, { merge: true, prettyErrors: true });
    const list = Array.isArray(docs) ? docs : [];
    const errors = list.flatMap((d) => d.errors.map((e) => `${path}: ${e.message}`));
    return { kind: 'yaml', text, docs: list.map((d) => d.toJS() as unknown), errors };
  }
  if (path.endsWith('.json')) {
    try {
      return { kind: 'json', text, docs: [JSON.parse(text) as unknown], errors: [] };
    } catch (err) {
      return { kind: 'json', text, docs: [], errors: [`${path}: ${(err as Error).message}`] };
    }
  }
  return { kind: 'other', text, docs: [], errors: [] };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export function loadDeployTree(root: string = findRoot()): DeployTree {
  const files = new Map<string, ParsedFile>();
  for (const abs of walk(join(root, 'deploy')).sort()) {
    const rel = relative(root, abs).split(sep).join('/');
    files.set(rel, parseFile(rel, readFileSync(abs, 'utf8')));
  }
  return { root, files };
}

/** A file or directory: in the tree for deploy/, on disk elsewhere. */
export function pathExists(tree: DeployTree, rel: string): boolean {
  const norm = posix.normalize(rel).replace(/\/$/, '');
  if (norm === 'deploy' || norm.startsWith('deploy/')) {
    if (tree.files.has(norm)) return true;
    for (const key of tree.files.keys()) if (key.startsWith(`${norm}/`)) return true;
    return false;
  }
  return existsSync(join(tree.root, norm));
}

/** Files of the tree directly or indirectly under a directory. */
export function filesUnder(tree: DeployTree, dir: string): string[] {
  const prefix = `${posix.normalize(dir).replace(/\/$/, '')}/`;
  return [...tree.files.keys()].filter((k) => k.startsWith(prefix));
}

/** The first document of a file (the one-document files: compose, prometheus, grafana). */
export function firstDoc(tree: DeployTree, rel: string): unknown {
  return tree.files.get(rel)?.docs[0];
}

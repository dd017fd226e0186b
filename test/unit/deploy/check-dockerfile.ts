// deploy/Dockerfile against the repository: what it copies exists and is not
// dockerignored, stages it copies from exist, it runs the npm bin as non-root.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_ENTRY, PORTS } from './contract.js';
import { isObj, obj, str } from './json.js';
import { type DeployTree, pathExists } from './load.js';

export const DOCKERFILE = 'deploy/Dockerfile';

interface Instruction {
  line: number;
  op: string;
  args: string;
}

function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    const start = i + 1;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i] ?? ''}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m === null || line.trimStart().startsWith('#')) continue;
    out.push({ line: start, op: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() });
  }
  return out;
}

function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      const dir = pattern[i + 2] === '/';
      re += dir ? '(?:.*/)?' : '.*';
      i += dir ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** .dockerignore semantics (the subset: *, **, ?, ! negation; a match of a parent excludes its contents). */
export function dockerIgnored(patterns: readonly string[], path: string): boolean {
  let ignored = false;
  const parts = path.split('/');
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const re = globToRegex(pattern);
    for (let n = 1; n <= parts.length; n++) {
      if (re.test(parts.slice(0, n).join('/'))) {
        ignored = !negate;
        break;
      }
    }
  }
  return ignored;
}

function readDockerignore(root: string): string[] {
  try {
    return readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  } catch {
    return [];
  }
}

function packageBin(root: string): string | undefined {
  const pkg: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const bin = obj(pkg)['bin'];
  return isObj(bin) ? str(bin['foliofuzz']) : str(bin);
}

export interface DockerfileFacts {
  /** Directories the final stage creates (mkdir), e.g. the store. */
  createdDirs: string[];
  exposed: number[];
}

export function checkDockerfile(tree: DeployTree, problems: string[]): DockerfileFacts {
  const facts: DockerfileFacts = { createdDirs: [], exposed: [] };
  const file = tree.files.get(DOCKERFILE);
  if (file === undefined) {
    problems.push(`${DOCKERFILE}: missing`);
    return facts;
  }
  const ignore = readDockerignore(tree.root);
  const args = new Map<string, string>();
  const stages: string[] = [];
  let user: string | undefined;
  let entrypoint: string | undefined;
  for (const ins of instructions(file.text)) {
    const at = `${DOCKERFILE}:${ins.line}`;
    const expand = (s: string): string => s.replace(/\$\{?(\w+)\}?/g, (_m, name: string) => args.get(name) ?? `$${name}`);
    if (ins.op === 'ARG') {
      const [name, value] = ins.args.split('=');
      if (name !== undefined && value !== undefined && stages.length === 0) args.set(name, value);
    } else if (ins.op === 'FROM') {
      const [image, as, name] = expand(ins.args).split(/\s+/);
      if (image !== 'node:20-bookworm-slim' && !stages.includes(image ?? '')) problems.push(`${at}: base image ${image}, expected node:20-bookworm-slim`);
      stages.push(as?.toUpperCase() === 'AS' && name !== undefined ? name : `#${stages.length}`);
      user = undefined;
      facts.createdDirs = [];
      facts.exposed = [];
    } else if (ins.op === 'COPY') {
      const words = ins.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const sources = paths.slice(0, -1);
      if (from !== undefined) {
        if (!stages.slice(0, -1).includes(from)) problems.push(`${at}: COPY --from=${from}: no earlier stage of that name`);
        continue;
      }
      for (const src of sources) {
        if (!pathExists(tree, src)) problems.push(`${at}: COPY ${src}: no such file in the repository`);
        else if (dockerIgnored(ignore, src)) problems.push(`${at}: COPY ${src}: excluded by .dockerignore`);
      }
    } else if (ins.op === 'USER') {
      user = ins.args;
    } else if (ins.op === 'ENTRYPOINT') {
      try {
        const list: unknown = JSON.parse(ins.args);
        entrypoint = Array.isArray(list) ? list.map(String).join(' ') : undefined;
      } catch {
        problems.push(`${at}: ENTRYPOINT should be exec form (a JSON array)`);
      }
    } else if (ins.op === 'EXPOSE') {
      facts.exposed.push(...ins.args.split(/\s+/).map((p) => Number(p.split('/')[0])));
    } else if (ins.op === 'RUN') {
      for (const m of ins.args.matchAll(/mkdir\s+(?:-p\s+)?((?:\/[^\s&;]+\s*)+)/g)) facts.createdDirs.push(...(m[1] ?? '').trim().split(/\s+/));
    }
  }
  if (stages.length < 2) problems.push(`${DOCKERFILE}: expected a multi-stage build`);
  if (user === undefined || user === 'root' || user === '0') problems.push(`${DOCKERFILE}: the runtime stage must run as a non-root USER`);
  const bin = packageBin(tree.root);
  if (bin !== CLI_ENTRY) problems.push(`package.json: bin.foliofuzz is ${bin}, the deploy files expect ${CLI_ENTRY}`);
  if (entrypoint === undefined || !entrypoint.startsWith('node ') || !entrypoint.endsWith(CLI_ENTRY)) {
    problems.push(`${DOCKERFILE}: ENTRYPOINT ${entrypoint} should run node ${CLI_ENTRY}`);
  }
  for (const port of [PORTS.grpc, PORTS.http, PORTS.metrics]) if (!facts.exposed.includes(port)) problems.push(`${DOCKERFILE}: does not EXPOSE ${port}`);
  return facts;
}

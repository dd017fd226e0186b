// The compose file as the checks need it: services by role, what each listens
// on, and where a container path comes from (bind mount or named volume).

import { posix } from 'node:path';
import { checkCliArgs, type ParsedArgs, parseHostPort } from './cli-args.js';
import { PORTS } from './contract.js';
import { arr, get, isObj, type Obj, obj, str } from './json.js';

export const COMPOSE = 'deploy/docker-compose.yml';
const COMPOSE_DIR = posix.dirname(COMPOSE);

export type Role = 'foliofuzz' | 'nats' | 'prometheus' | 'grafana' | 'other';

export interface Mount {
  /** Named volume, or bind mount with a repository-relative source. */
  type: 'volume' | 'bind';
  source: string;
  target: string;
}

export interface Service {
  name: string;
  raw: Obj;
  role: Role;
  /** The parsed foliofuzz command line (role foliofuzz). */
  cli?: ParsedArgs;
  /** Container port -> what listens there (client, monitor, grpc, http, metrics, web). */
  listens: Map<number, string>;
  mounts: Mount[];
}

export function serviceRole(svc: Obj): Role {
  const image = str(svc['image']) ?? '';
  const repo = image.replace(/^docker\.io\//, '').replace(/^library\//, '').split(/[:@]/)[0];
  if (repo === 'foliofuzz' || str(get(svc, 'build', 'dockerfile'))?.endsWith('deploy/Dockerfile') === true) return 'foliofuzz';
  if (repo === 'nats') return 'nats';
  if (repo === 'prom/prometheus') return 'prometheus';
  if (repo === 'grafana/grafana') return 'grafana';
  return 'other';
}

/** Value of a flag in a command array: `-f v`, `--flag v` or `--flag=v`. */
export function commandFlag(command: unknown, ...names: string[]): string | undefined {
  const words = arr(command).map((w) => String(w));
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    for (const name of names) {
      if (w === name) return words[i + 1];
      if (w.startsWith(`${name}=`)) return w.slice(name.length + 1);
    }
  }
  return undefined;
}

export function environment(svc: Obj): Map<string, string> {
  const env = svc['environment'];
  const out = new Map<string, string>();
  if (Array.isArray(env)) {
    for (const e of env) {
      const [k, ...v] = String(e).split('=');
      if (k !== undefined) out.set(k, v.join('='));
    }
  } else {
    for (const [k, v] of Object.entries(obj(env))) out.set(k, String(v));
  }
  return out;
}

export function parseMounts(svc: Obj): Mount[] {
  const out: Mount[] = [];
  for (const v of arr(svc['volumes'])) {
    let source: string | undefined;
    let target: string | undefined;
    if (typeof v === 'string') [source, target] = v.split(':');
    else if (isObj(v)) [source, target] = [str(v['source']), str(v['target'])];
    if (source === undefined || target === undefined) continue;
    const bind = /^[./~]/.test(source);
    out.push({ type: bind ? 'bind' : 'volume', source: bind ? posix.normalize(posix.join(COMPOSE_DIR, source)) : source, target: posix.normalize(target) });
  }
  return out;
}

/**
 * Where a container path lives: the innermost mount covering it, and the
 * path inside the mount's source (repository-relative for a bind mount).
 */
export function resolveMount(svc: Service, containerPath: string): { mount: Mount; path: string } | undefined {
  const p = posix.normalize(containerPath);
  let best: Mount | undefined;
  for (const m of svc.mounts) {
    if ((p === m.target || p.startsWith(`${m.target}/`)) && (best === undefined || m.target.length > best.target.length)) best = m;
  }
  if (best === undefined) return undefined;
  return { mount: best, path: posix.join(best.source, p.slice(best.target.length)).replace(/\/$/, '') };
}

function listens(role: Role, svc: Obj, cli: ParsedArgs | undefined): Map<number, string> {
  const out = new Map<number, string>();
  const command = svc['command'];
  if (role === 'foliofuzz') {
    for (const [flag, what] of [['--grpc', 'grpc'], ['--http', 'http'], ['--metrics', 'metrics']] as const) {
      const v = cli?.flags.get(flag);
      const hp = v === undefined ? undefined : parseHostPort(v);
      if (hp !== undefined) out.set(hp.port, what);
    }
  } else if (role === 'nats') {
    out.set(Number(commandFlag(command, '-p', '--port') ?? PORTS.nats), 'client');
    const monitor = commandFlag(command, '-m', '--http_port');
    if (monitor !== undefined) out.set(Number(monitor), 'monitor');
  } else if (role === 'prometheus') {
    const addr = commandFlag(command, '--web.listen-address') ?? `:${PORTS.prometheus}`;
    out.set(parseHostPort(addr)?.port ?? PORTS.prometheus, 'web');
  } else if (role === 'grafana') {
    out.set(Number(environment(svc).get('GF_SERVER_HTTP_PORT') ?? PORTS.grafana), 'web');
  }
  return out;
}

/** The compose services; CLI problems of foliofuzz commands go to `problems`. */
export function composeServices(doc: unknown, problems: string[]): Map<string, Service> {
  const out = new Map<string, Service>();
  for (const [name, value] of Object.entries(obj(get(doc, 'services')))) {
    const raw = obj(value);
    const role = serviceRole(raw);
    const cli = role === 'foliofuzz' ? checkCliArgs(raw['command'], `${COMPOSE}: services.${name}.command`, problems) : undefined;
    const svc: Service = { name, raw, role, listens: listens(role, raw, cli), mounts: parseMounts(raw) };
    if (cli !== undefined) svc.cli = cli;
    out.set(name, svc);
  }
  return out;
}

export function byRole(services: Map<string, Service>, role: Role, subcommand?: string): Service[] {
  return [...services.values()].filter((s) => s.role === role && (subcommand === undefined || s.cli?.subcommand === subcommand));
}

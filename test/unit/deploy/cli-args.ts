// A foliofuzz command line as deploy/ writes it (compose `command`, k8s `args`),
// checked against the CLI of issue 5.

import { CLI } from './contract.js';

export interface ParsedArgs {
  subcommand: string;
  flags: Map<string, string>;
}

export interface HostPort {
  host: string;
  port: number;
}

/** HOST:PORT (the host may be empty or 0.0.0.0). */
export function parseHostPort(value: string): HostPort | undefined {
  const m = /^([^:]*):(\d{1,5})$/.exec(value);
  if (m === null) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1] ?? '', port } : undefined;
}

/** nats://host:port -> host and port (4222 when absent). */
export function parseNatsUrl(value: string): HostPort | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') return undefined;
  return { host: url.hostname, port: url.port === '' ? 4222 : Number(url.port) };
}

/**
 * Parse and check one command array. `where` prefixes every problem;
 * `$(VAR)` values (Kubernetes env expansion) are accepted as opaque strings.
 */
export function checkCliArgs(args: unknown, where: string, problems: string[]): ParsedArgs | undefined {
  if (!Array.isArray(args)) {
    problems.push(`${where}: the command must be an array (exec form), got ${typeof args}`);
    return undefined;
  }
  const words: string[] = [];
  for (const [i, a] of args.entries()) {
    if (typeof a !== 'string') problems.push(`${where}[${i}]: ${JSON.stringify(a)} is not a string (quote it)`);
    else words.push(a);
  }
  const [subcommand, ...rest] = words;
  const spec = subcommand === undefined ? undefined : CLI[subcommand];
  if (subcommand === undefined || spec === undefined) {
    problems.push(`${where}: unknown foliofuzz subcommand ${JSON.stringify(subcommand)} (expected ${Object.keys(CLI).join(' or ')})`);
    return undefined;
  }
  const known = new Set([...spec.required, ...spec.optional]);
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] ?? '';
    const eq = word.indexOf('=');
    const flag = eq > 0 ? word.slice(0, eq) : word;
    if (!flag.startsWith('--')) {
      problems.push(`${where}: unexpected argument ${JSON.stringify(word)}`);
      continue;
    }
    if (!known.has(flag)) problems.push(`${where}: foliofuzz ${subcommand} has no flag ${flag}`);
    const value = eq > 0 ? word.slice(eq + 1) : rest[++i];
    if (value === undefined || value.startsWith('--')) {
      problems.push(`${where}: ${flag} needs a value`);
      if (value !== undefined) i--;
      continue;
    }
    if (flags.has(flag)) problems.push(`${where}: ${flag} given twice`);
    flags.set(flag, value);
  }
  for (const flag of spec.required) if (!flags.has(flag)) problems.push(`${where}: foliofuzz ${subcommand} needs ${flag}`);
  checkValues(flags, where, problems);
  return { subcommand, flags };
}

function checkValues(flags: Map<string, string>, where: string, problems: string[]): void {
  for (const [flag, value] of flags) {
    if (/^\$\([A-Za-z_][A-Za-z0-9_]*\)$/.test(value)) continue;
    const bad = (what: string): void => void problems.push(`${where}: ${flag} ${JSON.stringify(value)} is not ${what}`);
    switch (flag) {
      case '--nats':
        if (parseNatsUrl(value) === undefined) bad('a nats:// URL');
        break;
      case '--grpc':
      case '--http':
      case '--metrics':
        if (parseHostPort(value) === undefined) bad('HOST:PORT');
        break;
      case '--procs':
        if (!/^[1-9]\d*$/.test(value)) bad('a positive integer');
        break;
      case '--store':
        if (!value.startsWith('/')) bad('an absolute path');
        break;
      case '--token':
        if (value.length === 0) bad('a token');
        break;
    }
  }
}

/** The port a listening flag names, if it parses. */
export function flagPort(parsed: ParsedArgs | undefined, flag: string): number | undefined {
  const v = parsed?.flags.get(flag);
  return v === undefined ? undefined : parseHostPort(v)?.port;
}

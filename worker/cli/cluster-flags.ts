// Flags both cluster processes take: where NATS is and how to authenticate.
// The coordinator and the workers connect as different NATS users (the
// server's permissions keep each to its own subjects: worker/cluster/nats.ts),
// with a credentials file or a user and password. The password comes from a
// file or from FOLIOFUZZ_NATS_PASSWORD, never from the command line (`ps`
// shows that to everyone).

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { NatsOptions, NatsRole } from '../cluster/nats.js';
import { ProgramInputError } from '../prog/errors.js';

export const NATS_PASSWORD_ENV = 'FOLIOFUZZ_NATS_PASSWORD';

export interface NatsFlags {
  nats?: string;
  natsCreds?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

export function addNatsFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated (nats://host:4222)')
    .option('--nats-creds <file>', 'NATS credentials file (JWT and nkey seed)')
    .option('--nats-user <name>', `NATS user; the password from --nats-password-file or ${NATS_PASSWORD_ENV}`)
    .option('--nats-password-file <file>', 'file holding the NATS user\'s password (one line)')
    .option('--nats-tls-ca <file>', 'CA certificate to verify the NATS server with')
    .option('--nats-tls-cert <file>', 'client certificate for NATS (with --nats-tls-key)')
    .option('--nats-tls-key <file>', 'client key for NATS (with --nats-tls-cert)');
}

/**
 * A secret copied from an example instead of generated (deploy/k8s's Secrets
 * ship such placeholders): accepting it would leave the door open to anyone
 * who read the repository.
 */
export function isPlaceholderSecret(secret: string): boolean {
  return /replace[-_ ]?me|change[-_ ]?me|placeholder/i.test(secret);
}

/** The password of --nats-user: from --nats-password-file, else the environment; never a placeholder. */
function natsPassword(f: NatsFlags, env: NodeJS.ProcessEnv): string {
  const pw = readNatsPassword(f, env);
  if (isPlaceholderSecret(pw)) throw new ProgramInputError('the NATS password is a placeholder, not a password; generate one (openssl rand -hex 24)');
  return pw;
}

function readNatsPassword(f: NatsFlags, env: NodeJS.ProcessEnv): string {
  if (f.natsPasswordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(f.natsPasswordFile, 'utf8');
    } catch (e) {
      throw new ProgramInputError(`--nats-password-file: cannot read ${f.natsPasswordFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const pw = text.replace(/\r?\n$/, '');
    if (pw === '') throw new ProgramInputError(`--nats-password-file: ${f.natsPasswordFile} is empty`);
    return pw;
  }
  const pw = env[NATS_PASSWORD_ENV];
  if (pw === undefined || pw === '') throw new ProgramInputError(`--nats-user needs a password: --nats-password-file FILE or ${NATS_PASSWORD_ENV}`);
  return pw;
}

export function natsOptions(f: NatsFlags, name: string, role: NatsRole, env: NodeJS.ProcessEnv = process.env): NatsOptions {
  const url = f.nats ?? '';
  for (const u of url.split(',')) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s/]+$|^[^\s/:]+:\d+$/.test(u.trim())) throw new ProgramInputError(`--nats: '${u}' is not a NATS URL (nats://host:port)`);
  }
  if ((f.natsTlsCert === undefined) !== (f.natsTlsKey === undefined)) throw new ProgramInputError('--nats-tls-cert and --nats-tls-key go together');
  if (f.natsUser !== undefined && f.natsCreds !== undefined) throw new ProgramInputError('--nats-user and --nats-creds: one way to authenticate, not both');
  if (f.natsPasswordFile !== undefined && f.natsUser === undefined) throw new ProgramInputError('--nats-password-file needs --nats-user');
  return {
    url, name, role,
    ...(f.natsCreds !== undefined ? { credsFile: f.natsCreds } : {}),
    ...(f.natsUser !== undefined ? { user: f.natsUser, password: natsPassword(f, env) } : {}),
    ...(f.natsTlsCa !== undefined ? { tlsCa: f.natsTlsCa } : {}),
    ...(f.natsTlsCert !== undefined ? { tlsCert: f.natsTlsCert } : {}),
    ...(f.natsTlsKey !== undefined ? { tlsKey: f.natsTlsKey } : {}),
  };
}

/** Stop cleanly on SIGTERM/SIGINT (a second signal exits at once). */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    stop().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`shutdown after ${sig} failed: ${String(err)}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

// Flags both cluster processes take: where NATS is and how to authenticate.

import type { Command } from 'commander';
import type { NatsOptions } from '../cluster/nats.js';
import { ProgramInputError } from '../prog/errors.js';

export interface NatsFlags {
  nats?: string;
  natsCreds?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

export function addNatsFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated (nats://host:4222)')
    .option('--nats-creds <file>', 'NATS credentials file (JWT and nkey seed)')
    .option('--nats-tls-ca <file>', 'CA certificate to verify the NATS server with')
    .option('--nats-tls-cert <file>', 'client certificate for NATS (with --nats-tls-key)')
    .option('--nats-tls-key <file>', 'client key for NATS (with --nats-tls-cert)');
}

export function natsOptions(f: NatsFlags, name: string): NatsOptions {
  const url = f.nats ?? '';
  for (const u of url.split(',')) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s/]+$|^[^\s/:]+:\d+$/.test(u.trim())) throw new ProgramInputError(`--nats: '${u}' is not a NATS URL (nats://host:port)`);
  }
  if ((f.natsTlsCert === undefined) !== (f.natsTlsKey === undefined)) throw new ProgramInputError('--nats-tls-cert and --nats-tls-key go together');
  return {
    url, name,
    ...(f.natsCreds !== undefined ? { credsFile: f.natsCreds } : {}),
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

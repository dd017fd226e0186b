// `foliofuzz coordinator --nats URL --grpc HOST:PORT --http HOST:PORT --store DIR [--token T]`:
// the cluster's coordinator process (coordinator/coordinator.ts) with its HTTP
// side (metrics, health, reproducer downloads) and its gRPC API.

import { readFileSync } from 'node:fs';
import { Coordinator } from '../../coordinator/coordinator.js';
import { type GrpcServerOptions, startGrpcServer } from '../../coordinator/grpc-server.js';
import { coordinatorSource } from '../../coordinator/dashboard/coordinator-source.js';
import { dashboard } from '../../coordinator/dashboard/handler.js';
import { startHttpServer } from '../../coordinator/http-server.js';
import { makeLogger } from '../cluster/log.js';
import { parseHostPort } from '../cluster/metrics.js';
import { ProgramInputError } from '../prog/errors.js';
import { type NatsFlags, isPlaceholderSecret, natsOptions, onShutdown } from './cluster-flags.js';

export interface CoordinatorArgs extends NatsFlags {
  grpc?: string;
  http?: string;
  store?: string;
  token?: string;
  batchMs?: string;
  grpcTlsCert?: string;
  grpcTlsKey?: string;
  grpcTlsCa?: string;
}

/** --token: printable, no spaces, not a placeholder. */
function checkToken(token: string): void {
  if (!/^[\x21-\x7e]{1,512}$/.test(token)) throw new ProgramInputError('--token: expected 1..512 printable characters without spaces');
  if (isPlaceholderSecret(token)) throw new ProgramInputError('--token: this is a placeholder, not a token; generate one (openssl rand -hex 32)');
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ProgramInputError(`${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** --grpc-tls-cert/-key (together), --grpc-tls-ca (mutual TLS, needs the other two). */
function grpcTls(args: CoordinatorArgs): GrpcServerOptions['tls'] {
  if (args.grpcTlsCert === undefined && args.grpcTlsKey === undefined) {
    if (args.grpcTlsCa !== undefined) throw new ProgramInputError('--grpc-tls-ca needs --grpc-tls-cert and --grpc-tls-key');
    return undefined;
  }
  if (args.grpcTlsCert === undefined || args.grpcTlsKey === undefined) throw new ProgramInputError('--grpc-tls-cert and --grpc-tls-key go together');
  return {
    cert: readPem('--grpc-tls-cert', args.grpcTlsCert),
    key: readPem('--grpc-tls-key', args.grpcTlsKey),
    ...(args.grpcTlsCa !== undefined ? { ca: readPem('--grpc-tls-ca', args.grpcTlsCa) } : {}),
  };
}

export async function coordinatorCommand(args: CoordinatorArgs): Promise<number> {
  const log = makeLogger('coordinator');
  let nats;
  let grpc;
  let batchMs: number | undefined;
  let tls: GrpcServerOptions['tls'];
  try {
    nats = natsOptions(args, 'foliofuzz-coordinator', 'coordinator');
    grpc = parseHostPort('--grpc', args.grpc ?? '');
    parseHostPort('--http', args.http ?? '');
    if (!args.store) throw new ProgramInputError('--store: a directory is required');
    if (args.token !== undefined) checkToken(args.token);
    if (args.batchMs !== undefined) {
      if (!/^\d+$/.test(args.batchMs) || Number(args.batchMs) < 10 || Number(args.batchMs) > 600_000) throw new ProgramInputError(`--batch-ms: '${args.batchMs}' is not an integer in [10, 600000]`);
      batchMs = Number(args.batchMs);
    }
    tls = grpcTls(args);
  } catch (e) {
    if (e instanceof ProgramInputError || e instanceof Error) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const coordinator = new Coordinator({ nats, storeDir: args.store, log, ...(batchMs !== undefined ? { batchMs } : {}) });
  const source = coordinatorSource(coordinator, args.store, () => coordinator.connectedWorkers());
  let grpcListening = false;
  const http = await startHttpServer(coordinator, {
    address: args.http!, registry: coordinator.metrics.registry, ...(args.token !== undefined ? { token: args.token } : {}), dashboard: dashboard(source),
    jsonApi: coordinator,
    // Ready once the API takes calls, not just the coordinator.
    ready: () => grpcListening && coordinator.ready(),
    onError: (status, path, message) => log.warn({ status, path, error: message }, 'http request refused'),
  });
  log.info({ http: `${args.http!.replace(/:\d+$/, '')}:${http.port}` }, 'http listening');
  await coordinator.start();
  // gRPC once the coordinator is up: health then says SERVING, and no call meets a half-started coordinator.
  let grpcServer;
  try {
    grpcServer = await startGrpcServer(coordinator, {
      address: args.grpc!, logger: log, ...(args.token !== undefined ? { token: args.token } : {}), ...(tls ? { tls } : {}),
    });
  } catch (e) {
    log.error({ error: e instanceof Error ? e.message : String(e) }, 'grpc cannot start');
    await http.close();
    await coordinator.stop();
    return 1;
  }
  grpcListening = true;
  log.info({ grpc: `${grpc.host}:${grpcServer.port}`, tls: tls !== undefined }, 'grpc listening');
  onShutdown(async () => {
    log.info('shutting down');
    await grpcServer.close();
    await http.close();
    source.close();
    await coordinator.stop();
  });
  await new Promise(() => undefined);
  return 0;
}

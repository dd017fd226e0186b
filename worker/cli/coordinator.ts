// `foliofuzz coordinator --nats URL --grpc HOST:PORT --http HOST:PORT --store DIR [--token T]`:
// the cluster's coordinator process (coordinator/coordinator.ts) with its HTTP
// side (metrics, health, reproducer downloads) and its gRPC API.

import { Coordinator } from '../../coordinator/coordinator.js';
import { startHttpServer } from '../../coordinator/http-server.js';
import { makeLogger } from '../cluster/log.js';
import { parseHostPort } from '../cluster/metrics.js';
import { ProgramInputError } from '../prog/errors.js';
import { type NatsFlags, natsOptions, onShutdown } from './cluster-flags.js';

export interface CoordinatorArgs extends NatsFlags {
  grpc?: string;
  http?: string;
  store?: string;
  token?: string;
  batchMs?: string;
}

export async function coordinatorCommand(args: CoordinatorArgs): Promise<number> {
  const log = makeLogger('coordinator');
  let nats;
  let grpc;
  let batchMs: number | undefined;
  try {
    nats = natsOptions(args, 'foliofuzz-coordinator');
    grpc = parseHostPort('--grpc', args.grpc ?? '');
    parseHostPort('--http', args.http ?? '');
    if (!args.store) throw new ProgramInputError('--store: a directory is required');
    if (args.token !== undefined && !/^[\x21-\x7e]{1,512}$/.test(args.token)) throw new ProgramInputError('--token: expected 1..512 printable characters without spaces');
    if (args.batchMs !== undefined) {
      if (!/^\d+$/.test(args.batchMs) || Number(args.batchMs) < 10 || Number(args.batchMs) > 600_000) throw new ProgramInputError(`--batch-ms: '${args.batchMs}' is not an integer in [10, 600000]`);
      batchMs = Number(args.batchMs);
    }
  } catch (e) {
    if (e instanceof ProgramInputError || e instanceof Error) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const coordinator = new Coordinator({ nats, storeDir: args.store, log, ...(batchMs !== undefined ? { batchMs } : {}) });
  const http = await startHttpServer(coordinator, {
    address: args.http!, registry: coordinator.metrics.registry, ...(args.token !== undefined ? { token: args.token } : {}),
    onError: (status, path, message) => log.warn({ status, path, error: message }, 'http request refused'),
  });
  log.info({ http: `${args.http!.replace(/:\d+$/, '')}:${http.port}` }, 'http listening');
  await coordinator.start();
  // ---- gRPC API: the cluster-api branch starts coordinator/grpc-server.ts here, e.g.
  //   const grpcServer = await startGrpcServer(coordinator, { address: `${grpc.host}:${grpc.port}`, token: args.token, log });
  // and stops it in the shutdown handler below. Until then --grpc is validated only.
  void grpc;
  // ---- end gRPC
  onShutdown(async () => {
    log.info('shutting down');
    await http.close();
    await coordinator.stop();
  });
  await new Promise(() => undefined);
  return 0;
}

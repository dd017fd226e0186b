// A real coordinator (in this process, on a real nats-server of its own, with a
// fresh store) behind its gRPC front end, for the API and ctl tests. No worker
// joins, so campaigns run without executing anything: the API is what is
// under test; the campaign end to end is ctl-e2e.test.ts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { CoordinatorApi } from '../../coordinator/api.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { type GrpcServerOptions, startGrpcServer } from '../../coordinator/grpc-server.js';
import { waitFor } from './cluster.js';
import { NatsServer } from './nats-server.js';

export interface ApiStack {
  coordinator: Coordinator;
  nats: NatsServer;
  address: string;
  /** What the gRPC server logged (refusals, internal errors). */
  logged: string[];
  close(): Promise<void>;
}

/** `wrap` may put something between the coordinator and the server (to inject a failure). */
export async function startApiStack(opts: Omit<GrpcServerOptions, 'address'> = {}, wrap?: (c: Coordinator) => CoordinatorApi): Promise<ApiStack> {
  const nats = await NatsServer.start();
  const storeDir = mkdtempSync(join(tmpdir(), 'ff-grpc-store-'));
  const coordinator = new Coordinator({
    nats: nats.natsOptions('coordinator', 'grpc-test-coordinator'), storeDir, log: pino({ level: process.env['FOLIOFUZZ_LOG_LEVEL'] ?? 'silent' }),
  });
  await coordinator.start();
  await waitFor('the coordinator to be ready', () => coordinator.ready(), 30_000, 50);
  const logged: string[] = [];
  const grpc = await startGrpcServer(wrap ? wrap(coordinator) : coordinator, {
    address: '127.0.0.1:0',
    logger: { warn: (_o, m) => logged.push(m), error: (_o, m) => logged.push(m) },
    ...opts,
  });
  return {
    coordinator,
    nats,
    address: `127.0.0.1:${grpc.port}`,
    logged,
    close: async () => {
      await grpc.close();
      await coordinator.stop();
      await nats.dispose();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

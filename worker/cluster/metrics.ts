// A cluster worker's Prometheus metrics (its own registry, never the global
// one, plus the default process metrics), served on --metrics HOST:PORT with
// /healthz (the process is up) and /readyz (connected to NATS) for probes.

import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const BATCH_SECONDS_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly execs = new Counter({ name: 'fuzz_execs_total', help: 'Programs executed by this worker', labelNames: ['campaign'], registers: [this.registry] });
  readonly batchSeconds = new Histogram({
    name: 'fuzz_batch_duration_seconds', help: 'Wall time of one work batch on this worker', buckets: BATCH_SECONDS_BUCKETS, registers: [this.registry],
  });
  readonly redelivered = new Counter({
    name: 'fuzz_work_redelivered_total', help: 'Work batches this worker received that were delivered before (a worker died or stalled)', registers: [this.registry],
  });
  readonly refused = new Counter({
    name: 'fuzz_payloads_refused_total', help: 'Malformed NATS payloads refused', labelNames: ['subject'], registers: [this.registry],
  });

  constructor(workerId: string) {
    this.registry.setDefaultLabels({ worker: workerId });
    collectDefaultMetrics({ register: this.registry });
  }
}

/** Parse HOST:PORT (port 0: any free port). */
export function parseHostPort(flag: string, v: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535 || m[1] === '') throw new Error(`${flag}: '${v}' is not HOST:PORT`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** A /metrics endpoint, /healthz, and /readyz following `ready`, for a registry. */
export async function serveMetrics(
  registry: Registry, host: string, port: number, ready: () => boolean = () => true,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('only GET\n');
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${String(err)}\n`),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      if (ready()) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end('not ready: NATS not connected\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such path: ${path} (try /metrics, /healthz, /readyz)\n`);
    }
  });
  return listenHttp(server, host, port);
}

/** Listen on host:port (0: any free port); the bound port and a close that drops open connections too. */
export async function listenHttp(server: Server, host: string, port: number): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

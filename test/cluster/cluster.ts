// A whole cluster for the tests: a real nats-server, a coordinator process and
// worker processes (node dist/worker/cli/main.js ...), with helpers to talk to
// them (the coordinator's gRPC API, HTTP, the workers' heartbeats on NATS) and
// to wait for conditions by polling. dispose() ends every process it started and removes every
// temporary directory.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from 'nats';
import type { CampaignInfo, FindingInfo } from '../../coordinator/api.js';
import { FoliofuzzClient } from '../../coordinator/grpc-client.js';
import { CONSUMERS, STREAMS } from '../../worker/cluster/nats.js';
import { type Heartbeat, decodeHeartbeat } from '../../worker/cluster/wire.js';
import { NatsServer, type TestRole, freePort } from './nats-server.js';

const CLI = fileURLToPath(new URL('../../worker/cli/main.js', import.meta.url));

export class Proc {
  out = '';
  /** Wall ms when it was spawned. */
  readonly startedAt = Date.now();
  private readonly exited: Promise<number | null>;

  constructor(readonly name: string, readonly child: ChildProcess) {
    const keep = (b: Buffer): void => {
      this.out += b.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Log records (JSON lines) whose msg matches. */
  records(msg: string | RegExp): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.out.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        const m = String(rec['msg'] ?? '');
        if (typeof msg === 'string' ? m === msg : msg.test(m)) out.push(rec);
      } catch {
        // Not a log record.
      }
    }
    return out;
  }

  kill9(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  async stop(): Promise<number | null> {
    if (!this.alive) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface HttpReply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export function httpGet(port: number, path: string, token?: string, scheme = 'Bearer'): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: token ? { authorization: `${scheme} ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.end();
  });
}

/** The value of one sample in a Prometheus text exposition (summed over matching label sets). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
    found = true;
  }
  return found ? sum : NaN;
}

export interface ClusterOptions {
  token?: string;
  batchMs?: number;
}

export class Cluster {
  readonly storeDir = mkdtempSync(join(tmpdir(), 'ff-store-'));
  coordinator: Proc | null = null;
  readonly workers: Proc[] = [];
  httpPort = 0;
  grpcPort = 0;
  private readonly ncs = new Map<TestRole, NatsConnection>();
  private client: FoliofuzzClient | null = null;
  private readonly lastHeartbeat = new Map<string, Heartbeat>();
  private heartbeatsHeard = false;
  private readonly procs: Proc[] = [];

  private constructor(readonly nats: NatsServer, readonly opts: ClusterOptions) {}

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    return new Cluster(await NatsServer.start(), opts);
  }

  private spawnCli(name: string, args: string[]): Proc {
    // FF_TEST_NODE_ARGS: extra node flags for the spawned processes (e.g. --cpu-prof when profiling the bench).
    const nodeArgs = (process.env['FF_TEST_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FOLIOFUZZ_LOG_LEVEL: 'debug' } });
    const p = new Proc(name, child);
    this.procs.push(p);
    return p;
  }

  async startCoordinator(): Promise<Proc> {
    if (!this.httpPort) this.httpPort = await freePort();
    if (!this.grpcPort) this.grpcPort = await freePort();
    const args = [
      'coordinator', ...this.nats.cliFlags('coordinator'), '--grpc', `127.0.0.1:${this.grpcPort}`, '--http', `127.0.0.1:${this.httpPort}`,
      '--store', this.storeDir, '--batch-ms', String(this.opts.batchMs ?? 500),
      ...(this.opts.token ? ['--token', this.opts.token] : []),
    ];
    const p = this.spawnCli('coordinator', args);
    this.coordinator = p;
    await waitFor('the coordinator to be ready', async () => {
      if (!p.alive) throw new Error(`coordinator exited: ${p.out}`);
      return (await httpGet(this.httpPort, '/readyz')).status === 200;
    }, 60_000);
    // gRPC starts once the coordinator is ready; a client of the last coordinator may be backing off.
    await waitFor('the coordinator to serve gRPC', () => p.records('grpc listening').length > 0, 30_000);
    this.client?.close();
    this.client = null;
    return p;
  }

  /** `extra`: more worker flags (--kernel-confirm). */
  async startWorker(procs = 1, extra: string[] = []): Promise<{ proc: Proc; id: string; metricsPort: number }> {
    const p = this.spawnCli(`worker${this.workers.length}`, ['worker', ...this.nats.cliFlags('worker'), '--procs', String(procs), '--metrics', '127.0.0.1:0', ...extra]);
    this.workers.push(p);
    const rec = await waitFor('a worker to start', () => {
      if (!p.alive) throw new Error(`worker exited: ${p.out}`);
      return p.records('worker started')[0];
    }, 60_000);
    return { proc: p, id: String(rec['worker']), metricsPort: Number(rec['metrics']) };
  }

  /** A connection as one of the NATS users (a test playing a worker connects as one; `admin` inspects). */
  async connection(role: TestRole): Promise<NatsConnection> {
    let nc = this.ncs.get(role);
    if (!nc) {
      nc = await this.nats.connect(role);
      this.ncs.set(role, nc);
    }
    return nc;
  }

  /** The coordinator's gRPC API, as `foliofuzz ctl` uses it. */
  get api(): FoliofuzzClient {
    this.client ??= new FoliofuzzClient({
      address: `127.0.0.1:${this.grpcPort}`, timeoutMs: 10_000, ...(this.opts.token !== undefined ? { token: this.opts.token } : {}),
    });
    return this.client;
  }

  campaign(id: string): Promise<CampaignInfo> {
    return this.api.getCampaign(id);
  }

  findings(campaignId: string): Promise<FindingInfo[]> {
    return this.api.listFindings(campaignId);
  }

  /** Each worker's latest heartbeat, read off NATS (ff.hb.<worker>) as the coordinator reads them. */
  async heartbeats(): Promise<Heartbeat[]> {
    if (!this.heartbeatsHeard) {
      this.heartbeatsHeard = true;
      const nc = await this.connection('admin');
      nc.subscribe('ff.hb.*', {
        callback: (err, m) => {
          if (err) return;
          try {
            const hb = decodeHeartbeat(m.data, m.subject);
            this.lastHeartbeat.set(hb.workerId, hb);
          } catch {
            // The resilience test forges malformed heartbeats; the coordinator refuses them.
          }
        },
      });
      await nc.flush();
    }
    return [...this.lastHeartbeat.values()];
  }

  /** Every result stored in FF_RESULTS so far has been taken up by the coordinator (applied, ignored or refused) and acked. */
  async resultsSettled(): Promise<boolean> {
    const jsm = await (await this.connection('admin')).jetstreamManager();
    const [s, c] = await Promise.all([jsm.streams.info(STREAMS.results), jsm.consumers.info(STREAMS.results, CONSUMERS.coordinator)]);
    return c.ack_floor.stream_seq >= s.state.last_seq && c.num_pending === 0 && c.num_ack_pending === 0;
  }

  async metrics(): Promise<string> {
    return (await httpGet(this.httpPort, '/metrics')).body;
  }

  async dispose(): Promise<void> {
    this.client?.close();
    for (const nc of this.ncs.values()) await nc.close().catch(() => undefined);
    await Promise.all(this.procs.map((p) => p.stop()));
    await this.nats.dispose();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

// A real nats-server process with JetStream for the cluster tests: its own
// free port and store directory; stop() and restart() keep both, so streams
// and consumers survive a restart like they do in production.
//
// It runs as production should: from a config file with a user per role
// (coordinator, worker) holding exactly the permissions worker/cluster/nats.ts
// says the role needs, random passwords, and no anonymous access. An `admin`
// user without limits stands for the operator (tests inspect streams with it).

import { randomBytes } from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, type NatsConnection, connect } from 'nats';
import { INBOX_PREFIX, type NatsRole, PERMISSIONS } from '../../worker/cluster/nats.js';

export type TestRole = NatsRole | 'admin';

/** The authorization block of a nats-server config: one user per role, with the role's permissions. */
export function authorizationConfig(passwords: Record<TestRole, string>): string {
  const user = (role: TestRole): string => {
    const perms = role === 'admin' ? '' : `, permissions: { publish: { allow: ${JSON.stringify(PERMISSIONS[role].publish)} }, `
      + `subscribe: { allow: ${JSON.stringify(PERMISSIONS[role].subscribe)} } }`;
    return `    { user: ${JSON.stringify(role)}, password: ${JSON.stringify(passwords[role])}${perms} }`;
  };
  return `authorization {\n  users = [\n${(['coordinator', 'worker', 'admin'] as const).map(user).join('\n')}\n  ]\n}\n`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Something listens on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export class NatsServer {
  private proc: ChildProcess | null = null;
  readonly storeDir: string;
  private readonly configFile: string;
  readonly passwords: Record<TestRole, string>;
  log = '';

  private constructor(readonly port: number) {
    this.storeDir = mkdtempSync(join(tmpdir(), 'ff-nats-'));
    const pw = (): string => randomBytes(12).toString('hex');
    this.passwords = { coordinator: pw(), worker: pw(), admin: pw() };
    this.configFile = join(this.storeDir, 'nats-server.conf');
    writeFileSync(this.configFile, `listen: "127.0.0.1:${port}"\njetstream { store_dir: ${JSON.stringify(join(this.storeDir, 'js'))} }\n`
      + authorizationConfig(this.passwords));
    for (const role of ['coordinator', 'worker'] as const) writeFileSync(this.passwordFile(role), `${this.passwords[role]}\n`, { mode: 0o600 });
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  passwordFile(role: NatsRole): string {
    return join(this.storeDir, `${role}.password`);
  }

  /** The CLI flags that connect a process as `role`. */
  cliFlags(role: NatsRole): string[] {
    return ['--nats', this.url, '--nats-user', role, '--nats-password-file', this.passwordFile(role)];
  }

  /** What a process of `role` passes to the Coordinator or ClusterWorker (worker/cluster/nats.ts NatsOptions). */
  natsOptions(role: NatsRole, name: string): { url: string; name: string; role: NatsRole; user: string; password: string } {
    return { url: this.url, name, role, user: role, password: this.passwords[role] };
  }

  /** A connection as `role` (the inbox prefix its permissions allow), reconnecting through restarts. */
  connect(role: TestRole, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
    return connect({
      servers: this.url, user: role, pass: this.passwords[role], maxReconnectAttempts: -1, reconnectTimeWait: 250,
      ...(role === 'admin' ? {} : { inboxPrefix: INBOX_PREFIX[role] }), ...extra,
    });
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort());
    await s.launch();
    return s;
  }

  private async launch(): Promise<void> {
    const proc = spawn('nats-server', ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (b: Buffer): void => {
      this.log = (this.log + b.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const deadline = Date.now() + 20_000;
    while (!(await portOpen(this.port))) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${this.port}: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (SIGKILL after 5 s), or SIGKILL at once: the store is left as a crash leaves it. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }

  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.launch();
  }

  /** The server's process id (for its memory), while it runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

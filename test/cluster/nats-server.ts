// A real nats-server process with JetStream for the cluster tests: its own
// free port and store directory; stop() and restart() keep both, so streams
// and consumers survive a restart like they do in production.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

function portOpen(port: number): Promise<boolean> {
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
  log = '';

  private constructor(readonly port: number) {
    this.storeDir = mkdtempSync(join(tmpdir(), 'ff-nats-'));
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort());
    await s.launch();
    return s;
  }

  private async launch(): Promise<void> {
    const proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
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

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

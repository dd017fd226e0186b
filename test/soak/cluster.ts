// Cluster soak (npm run soak -- cluster [--minutes M] [--json FILE]): a real
// nats-server (users per role, as deployed), a coordinator and two worker
// processes run two campaigns for M minutes (default 10) through a worker
// killed with SIGKILL, the coordinator killed with SIGKILL, nats-server
// restarted, one campaign stopped, and all along a
// stream of forged and malformed messages. It ends with:
//
//   exact accounting  every campaign's executions equal the sum over the
//                     distinct batch results NATS stored for it (an audit copy
//                     of FF_RESULTS, made by the server: `republish`), the
//                     forged ones excluded; no batch left out
//   bounded FF_DEAD   exactly one dead letter per malformed stream message sent
//   bounded /metrics  a few series of refusals, whatever the forged ids
//
// and prints the coordinator's, the workers' and nats-server's memory, the
// store's and the streams' sizes over time, and their growth per hour
// projected to a week (BENCHMARKS.md, "Cluster soak"). Not part of `npm test`.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type { CampaignInfo } from '../../coordinator/api.js';
import { CONSUMERS, STREAMS, SUBJECTS, streamConfigs } from '../../worker/cluster/nats.js';
import { type BatchResult, decodeBatchResult, encodeBatchResult } from '../../worker/cluster/wire.js';
import { Cluster, type Proc, metricValue, waitFor } from '../cluster/cluster.js';

/** Field 1, length-delimited, with a length far past the end: no protobuf decoder accepts it. */
const GARBAGE = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);
const AUDIT = 'SOAK_AUDIT';
const SAMPLE_MS = 10_000;
const INJECT_MS = 2_000;

interface Sample {
  sec: number;
  rssMiB: { coordinator: number; workers: number[]; nats: number };
  /** Each live worker's pid, with its RSS (MiB) and age (s). */
  workerRss: { pid: number; mib: number; ageSec: number }[];
  storeBytes: number;
  /** The store's corpus inputs and findings (the rest is campaign.json). */
  corpusBytes: number;
  findingsBytes: number;
  streamBytes: Record<string, number>;
  metricsBytes: number;
  execs: Record<string, number>;
}

interface Injected {
  malformedResults: number;
  malformedBatches: number;
  malformedJobs: number;
  forgedResults: number;
  junkHeartbeats: number;
  forbidden: number;
}

function args(argv: string[]): { minutes: number; json: string } {
  let minutes = 10;
  let json = '/tmp/foliofuzz-soak-cluster.json';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes') minutes = Number(argv[++i]);
    else if (argv[i] === '--json') json = argv[++i] ?? json;
  }
  if (!(minutes > 0)) throw new Error('--minutes: a positive number');
  return { minutes, json };
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
  } catch {
    return 0;
  }
}

function duBytes(...paths: string[]): number {
  if (paths.length === 0) return 0;
  return execFileSync('du', ['-sbc', ...paths], { encoding: 'utf8' }).trim().split('\n').map((l) => Number(l.split('\t')[0])).at(-1) ?? 0;
}

/** `sub` of every campaign in the store. */
function campaignParts(storeDir: string, sub: string): string[] {
  const root = join(storeDir, 'campaigns');
  return existsSync(root) ? readdirSync(root).map((c) => join(root, c, sub)).filter((p) => existsSync(p)) : [];
}

/** Bytes per hour from a least-squares line through (sec, bytes). */
function perHour(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3600;
}

class Soak {
  readonly samples: Sample[] = [];
  readonly injected: Injected = { malformedResults: 0, malformedBatches: 0, malformedJobs: 0, forgedResults: 0, junkHeartbeats: 0, forbidden: 0 };
  readonly forgedIds = new Set<string>();
  readonly events: string[] = [];
  readonly problems: string[] = [];
  private readonly t0 = Date.now();
  private injecting = true;
  campaigns: CampaignInfo[] = [];
  /** The audit copy of every result stored. */
  auditState = { messages: 0, bytes: 0 };
  /** When the last campaign stopped (the growth figures are of the time before). */
  stoppedAt = Infinity;
  /**
   * Where the killed coordinator's dead-letter consumer had acked up to: the
   * next coordinator counts every dead letter after it (those stored since,
   * and those stored before that the killed one had not counted yet).
   */
  deadAckFloorAtKill = 0;

  constructor(readonly cluster: Cluster, readonly jsm: JetStreamManager) {}

  sec(): number {
    return Math.round((Date.now() - this.t0) / 100) / 10;
  }

  note(what: string): void {
    this.events.push(`${this.sec()} s: ${what}`);
    process.stdout.write(`  [${this.sec()} s] ${what}\n`);
  }

  async sample(): Promise<void> {
    const c = this.cluster;
    const streamBytes: Record<string, number> = {};
    for (const s of Object.values(STREAMS)) streamBytes[s] = (await this.jsm.streams.info(s).catch(() => null))?.state.bytes ?? -1;
    const metrics = await c.metrics().catch(() => '');
    const execs: Record<string, number> = {};
    for (const k of this.campaigns) execs[k.id] = (await c.campaign(k.id).catch(() => null))?.execs ?? -1;
    this.samples.push({
      sec: this.sec(),
      rssMiB: {
        coordinator: rssMiB(c.coordinator?.child.pid), workers: c.workers.filter((w) => w.alive).map((w) => rssMiB(w.child.pid)), nats: rssMiB(c.nats.pid),
      },
      workerRss: c.workers.filter((w) => w.alive).map((w) => ({ pid: w.child.pid!, mib: rssMiB(w.child.pid), ageSec: (Date.now() - w.startedAt) / 1000 })),
      storeBytes: duBytes(c.storeDir), corpusBytes: duBytes(...campaignParts(c.storeDir, 'corpus')),
      findingsBytes: duBytes(...campaignParts(c.storeDir, 'findings')), streamBytes, metricsBytes: metrics.length, execs,
    });
  }

  /** One round of abuse: malformed and forged messages on every subject a client can reach. */
  async inject(asWorker: NatsConnection, asCoordinator: JetStreamClient, n: number): Promise<void> {
    const wjs = asWorker.jetstream();
    const [a] = this.campaigns;
    const ok = async (p: Promise<unknown>, key: keyof Injected): Promise<void> => {
      try {
        await p;
        this.injected[key]++;
      } catch {
        // NATS away (restarting): not sent, not counted.
      }
    };
    await ok(wjs.publish(SUBJECTS.batchResult, GARBAGE, { timeout: 3000 }), 'malformedResults');
    const forged: BatchResult = {
      workerId: 'w-forger', campaignId: a!.id, batchId: `${a!.id}-bforged.${n}`, execs: 1e12, timeouts: 0, newInputs: [], findings: [], harness: [], ms: 1, delivery: 1,
    };
    this.forgedIds.add(forged.batchId);
    await ok(wjs.publish(SUBJECTS.batchResult, encodeBatchResult(forged), { timeout: 3000 }), 'forgedResults');
    asWorker.publish(`ff.hb.w-junk-${n}`, GARBAGE);
    this.injected.junkHeartbeats++;
    // What a worker's user may not do at all: the server refuses it.
    asWorker.publish(`ff.work.batch.${a!.id}.forged-${n}`, GARBAGE);
    asWorker.publish('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.FF_WORK.ff-batches', GARBAGE);
    this.injected.forbidden += 2;
    // Malformed work from the coordinator's user (a subject naming only the campaign: the workers take it).
    if (this.campaigns.some((k) => k.id === a!.id)) await ok(asCoordinator.publish(`ff.work.batch.${a!.id}`, GARBAGE, { timeout: 3000 }), 'malformedBatches');
    await ok(asCoordinator.publish(SUBJECTS.verifyJob, GARBAGE, { timeout: 3000 }), 'malformedJobs');
  }

  async injectLoop(): Promise<void> {
    const asWorker = await this.cluster.connection('worker');
    const asCoordinator = (await this.cluster.connection('coordinator')).jetstream();
    for (let n = 0; this.injecting; n++) {
      await this.inject(asWorker, asCoordinator, n);
      await new Promise((r) => setTimeout(r, INJECT_MS));
    }
  }

  stopInjecting(): void {
    this.injecting = false;
  }
}

/** The production streams, FF_RESULTS with a server-side copy of every stored result into SOAK_AUDIT. */
async function auditedTopology(jsm: JetStreamManager): Promise<void> {
  for (const cfg of streamConfigs()) {
    await jsm.streams.add(cfg.name === STREAMS.results ? { ...cfg, republish: { src: SUBJECTS.resultsAll, dest: 'soak.audit.>' } } : cfg);
  }
  await jsm.streams.add({ name: AUDIT, subjects: ['soak.audit.>'] });
}

/** Executions per campaign over the distinct batch results NATS stored, forged ones excluded. */
async function audited(jsm: JetStreamManager, forged: Set<string>): Promise<Map<string, number>> {
  const info = await jsm.streams.info(AUDIT);
  const seen = new Set<string>();
  const out = new Map<string, number>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(AUDIT, { seq }).catch(() => null);
    if (m === null || m.subject !== 'soak.audit.batch') continue;
    let r: BatchResult;
    try {
      r = decodeBatchResult(m.data, m.subject);
    } catch {
      continue; // the malformed ones
    }
    if (forged.has(r.batchId) || seen.has(r.batchId)) continue;
    seen.add(r.batchId);
    out.set(r.campaignId, (out.get(r.campaignId) ?? 0) + r.execs);
  }
  return out;
}

function outstanding(storeDir: string, id: string): number {
  const rec = JSON.parse(readFileSync(`${storeDir}/campaigns/${id}/campaign.json`, 'utf8')) as { outstanding: Record<string, number> };
  return Object.keys(rec.outstanding).length;
}

async function at(soak: Soak, fraction: number, totalMs: number): Promise<void> {
  const wait = soak.sec() * -1000 + fraction * totalMs;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

async function run(minutes: number): Promise<{ soak: Soak; checks: Record<string, boolean> }> {
  const totalMs = minutes * 60_000;
  const cluster = await Cluster.start({ batchMs: 1000 });
  const jsm = await (await cluster.connection('admin')).jetstreamManager();
  await auditedTopology(jsm);
  await cluster.startCoordinator();
  const workers: Proc[] = [(await cluster.startWorker(1)).proc, (await cluster.startWorker(1)).proc];
  const soak = new Soak(cluster, jsm);
  soak.campaigns = [await cluster.api.createCampaign({ bugs: ['set-uptodate-during-read'], name: 'soak-seeded' }), await cluster.api.createCampaign({ bugs: [], name: 'soak-clean' })];
  soak.note(`campaigns ${soak.campaigns.map((c) => c.id).join(', ')}; ${minutes} min`);
  const sampler = setInterval(() => void soak.sample().catch(() => undefined), SAMPLE_MS);
  const injector = soak.injectLoop();
  try {
    await soak.sample();
    await at(soak, 0.15, totalMs);
    await workers[0]!.kill9();
    soak.note('worker 0 killed (SIGKILL)');
    await new Promise((r) => setTimeout(r, 5_000));
    await cluster.startWorker(1);
    soak.note('a new worker started');
    await at(soak, 0.3, totalMs);
    await cluster.coordinator!.kill9();
    soak.deadAckFloorAtKill = (await jsm.consumers.info(STREAMS.dead, CONSUMERS.dead)).ack_floor.stream_seq;
    soak.note('coordinator killed (SIGKILL)');
    await cluster.startCoordinator();
    soak.note('coordinator started again');
    await at(soak, 0.5, totalMs);
    // A clean restart: a SIGKILL may lose the server's last writes, to FF_RESULTS and to the audit copy alike
    // but not always together, and the audit could then not be exact (test/cluster covers what a crash leaves).
    await cluster.nats.restart();
    soak.note('nats-server restarted');
    await at(soak, 0.7, totalMs);
    await cluster.api.stopCampaign(soak.campaigns[1]!.id);
    soak.note(`campaign ${soak.campaigns[1]!.id} stopped`);
    await at(soak, 0.96, totalMs);
    soak.stopInjecting();
    await injector;
    await at(soak, 1, totalMs);
    await soak.sample();
    soak.stoppedAt = soak.sec();
    await cluster.api.stopCampaign(soak.campaigns[0]!.id);
    soak.note(`campaign ${soak.campaigns[0]!.id} stopped; waiting for every batch out to be answered or found lost`);
    await waitFor('no batch out', () => soak.campaigns.every((c) => outstanding(cluster.storeDir, c.id) === 0), 120_000, 1000);
    await waitFor('every result taken up', () => cluster.resultsSettled(), 60_000, 500);
    // The workers' dead letters of the last malformed messages, and the counter catching up.
    await new Promise((r) => setTimeout(r, 5_000));
    await soak.sample();
    return { soak, checks: await finalChecks(soak, jsm) };
  } finally {
    clearInterval(sampler);
    soak.stopInjecting();
    await cluster.dispose();
  }
}

async function finalChecks(soak: Soak, jsm: JetStreamManager): Promise<Record<string, boolean>> {
  const c = soak.cluster;
  const checks: Record<string, boolean> = {};
  const audit = await audited(jsm, soak.forgedIds);
  const auditInfo = (await jsm.streams.info(AUDIT)).state;
  soak.auditState = { messages: auditInfo.messages, bytes: auditInfo.bytes };
  for (const k of soak.campaigns) {
    const info = await c.campaign(k.id);
    const want = audit.get(k.id) ?? 0;
    checks[`accounting ${k.id}: ${info.execs} execs counted, ${want} in the distinct results stored`] = info.execs === want && want > 0;
  }
  const dead = (await jsm.streams.info(STREAMS.dead)).state;
  const i = soak.injected;
  const sent = i.malformedResults + i.malformedBatches + i.malformedJobs;
  checks[`FF_DEAD: ${dead.messages} dead letters for ${sent} malformed stream messages sent`] = dead.messages === sent;
  const metrics = await c.metrics();
  const counted = metricValue(metrics, 'fuzz_dead_lettered_total');
  const uncounted = dead.last_seq - soak.deadAckFloorAtKill;
  checks[`fuzz_dead_lettered_total: ${counted} since the coordinator's restart, ${uncounted} dead letters it had to count`] = counted === uncounted;
  const series = metrics.split('\n').filter((l) => l.startsWith('fuzz_payloads_refused_total{')).length;
  checks[`/metrics: ${metrics.length} bytes, ${series} fuzz_payloads_refused_total series after ${i.junkHeartbeats} junk heartbeats`] =
    series <= 8 && metrics.length < 64 * 1024;
  checks['every process alive (but the worker killed)'] = c.coordinator!.alive && c.workers.filter((w) => w.alive).length === 2;
  return checks;
}

/** The steepest RSS growth per hour of a worker alive through the samples, past its first two minutes. */
function workerGrowth(samples: Sample[]): number {
  const byPid = new Map<number, [number, number][]>();
  for (const x of samples) {
    for (const w of x.workerRss) if (w.ageSec >= 120) byPid.set(w.pid, [...(byPid.get(w.pid) ?? []), [x.sec, w.mib]]);
  }
  return Math.max(0, ...[...byPid.values()].filter((p) => p.length >= 3).map(perHour));
}

function kib(bytes: number): string {
  return bytes < 0 ? '-' : (bytes / 1024).toFixed(0);
}

function report(soak: Soak, checks: Record<string, boolean>, minutes: number): object {
  const s = soak.samples;
  // The second half of the time the campaigns ran: past the start-up, before the end's drain.
  const half = s.filter((x) => x.sec >= soak.stoppedAt / 2 && x.sec <= soak.stoppedAt);
  const fit = (f: (x: Sample) => number): number => perHour(half.map((x) => [x.sec, f(x)]));
  const last = s[s.length - 1]!;
  const growth = {
    coordinatorRssMiBPerHour: fit((x) => x.rssMiB.coordinator),
    workerRssMiBPerHour: workerGrowth(half),
    storeBytesPerHour: fit((x) => x.storeBytes),
    corpusBytesPerHour: fit((x) => x.corpusBytes),
    findingsBytesPerHour: fit((x) => x.findingsBytes),
    streamBytesPerHour: Object.fromEntries(Object.values(STREAMS).map((st) => [st, fit((x) => x.streamBytes[st] ?? 0)])),
  };
  const execs = soak.campaigns.reduce((n, k) => n + (last.execs[k.id] ?? 0), 0);
  const results = soak.auditState;
  const out = { minutes, events: soak.events, injected: soak.injected, checks, growth, execs, execsPerSec: execs / soak.stoppedAt, results, last, samples: s };
  const mib = (b: number): string => (b / 1024 / 1024).toFixed(2);
  const lines = [
    `cluster soak, ${minutes} min: ${Object.values(checks).every(Boolean) ? 'PASS' : 'FAIL'}`,
    ...Object.entries(checks).map(([k, v]) => `  ${v ? 'ok  ' : 'FAIL'} ${k}`),
    `  injected: ${JSON.stringify(soak.injected)}`,
    `  ${execs} execs in ${soak.stoppedAt.toFixed(0)} s (${(execs / soak.stoppedAt).toFixed(0)}/s); every result stored: `
      + `${results.messages} messages, ${mib(results.bytes)} MiB (what FF_RESULTS would hold if it kept them)`,
    '  sec  coord MiB  workers MiB  nats MiB  store MiB  (corpus  findings)  FF_WORK  FF_JOBS  FF_RESULTS  FF_DEAD KiB  /metrics KiB',
    ...s.map((x) => `  ${String(Math.round(x.sec)).padStart(3)}  ${x.rssMiB.coordinator.toFixed(0).padStart(9)}  ${x.rssMiB.workers.map((w) => w.toFixed(0)).join('/').padStart(11)}  `
      + `${x.rssMiB.nats.toFixed(0).padStart(8)}  ${mib(x.storeBytes).padStart(9)}  ${mib(x.corpusBytes).padStart(8)}  ${mib(x.findingsBytes).padStart(8)}  `
      + `${Object.values(STREAMS).map((st) => kib(x.streamBytes[st] ?? -1).padStart(st === 'FF_RESULTS' ? 10 : st === 'FF_DEAD' ? 11 : 7)).join('  ')}  `
      + `${(x.metricsBytes / 1024).toFixed(1).padStart(12)}`),
    `  growth per hour (the second half of the run, least squares): coordinator RSS ${growth.coordinatorRssMiBPerHour.toFixed(1)} MiB, `
      + `worker RSS ${growth.workerRssMiBPerHour.toFixed(1)} MiB, store ${mib(growth.storeBytesPerHour)} MiB (corpus ${mib(growth.corpusBytesPerHour)}, `
      + `findings ${mib(growth.findingsBytesPerHour)}), ${Object.entries(growth.streamBytesPerHour).map(([k, v]) => `${k} ${mib(v)}`).join(', ')} MiB`,
    `  a week at that rate: store +${mib(growth.storeBytesPerHour * 168)} MiB, FF_DEAD +${mib((growth.streamBytesPerHour[STREAMS.dead] ?? 0) * 168)} MiB (capped at 1 GiB)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return out;
}

export async function soakCluster(argv: string[]): Promise<number> {
  const { minutes, json } = args(argv);
  process.stdout.write(`cluster soak: ${minutes} min (nats-server ${execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim()})\n`);
  const { soak, checks } = await run(minutes);
  writeFileSync(json, `${JSON.stringify(report(soak, checks, minutes), null, 2)}\n`);
  process.stdout.write(`  details: ${json}\n`);
  return Object.values(checks).every(Boolean) ? 0 : 1;
}

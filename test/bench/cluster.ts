// `npm run bench -- cluster`: what the cluster costs against the embedded engine.
//
// 1. Throughput: execs/s of an embedded campaign (`fuzz`, N worker threads)
//    against a cluster campaign (real nats-server, coordinator and N worker
//    processes of one executor thread each), every switch off, for N = 1, 2.
//    The ratio is per core: execs per CPU-second of the fuzzing processes (the
//    embedded process; the worker processes), so other load on the machine
//    does not decide it; wall-clock execs/s are printed too.
// 2. Coordinator cost: a real coordinator process serves simulated workers
//    (heartbeats, and a synthetic BatchResult for every batch it issues, each
//    standing for one worker-second of fuzzing at the measured per-core rate,
//    one in ten carrying a new corpus input) as fast as it goes; its CPU time
//    (from /proc) per batch gives the CPU per 1,000 execs/s and how many
//    one-core workers one coordinator core can feed.

import { readFileSync } from 'node:fs';
import { runCampaign } from '../../worker/fuzz/campaign.js';
import { generateProgram } from '../../worker/fuzz/generate.js';
import { FuzzRng } from '../../worker/fuzz/rng.js';
import { CONSUMERS, STREAMS } from '../../worker/cluster/nats.js';
import { decodeWorkBatch, encodeBatchResult, encodeHeartbeat } from '../../worker/cluster/wire.js';
import { Cluster, waitFor } from '../cluster/cluster.js';

export interface ClusterBenchOptions {
  /** Seconds each throughput measurement runs (after a warm-up). */
  seconds: number;
  /** Synthetic results published for the coordinator-cost measurement. */
  results: number;
  seed: number;
  log: (line: string) => void;
}

export interface ClusterBenchResult {
  ok: boolean;
  problems: string[];
  embedded: number[];
  cluster: number[];
  cpuPer1000ExecsPerSec: number;
  workersPerCoordinator: number;
}

const WARMUP_SEC = 4;

interface Rate {
  /** Execs per wall second. */
  wall: number;
  /** Execs per CPU second of the fuzzing processes: throughput per core, whatever else the machine runs. */
  perCpu: number;
}

async function embeddedRate(threads: number, seconds: number, seed: number): Promise<Rate> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runCampaign({ bugs: [], workers: threads, seed, feedback: true, minimize: false, durationSec: seconds });
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  return { wall: r.execs / wall, perCpu: r.execs / ((cpu.user + cpu.system) / 1e6) };
}

async function clusterRate(workers: number, seconds: number, seed: number): Promise<Rate> {
  const cluster = await Cluster.start({ batchMs: 1000 });
  try {
    await cluster.startCoordinator();
    const pids: number[] = [];
    for (let i = 0; i < workers; i++) pids.push((await cluster.startWorker(1)).proc.child.pid!);
    const c = await cluster.api.createCampaign({ bugs: [], seed });
    await waitFor('the campaign to start', async () => (await cluster.campaign(c.id)).execs > 0, 60_000);
    await new Promise((r) => setTimeout(r, WARMUP_SEC * 1000));
    const cpu = (): number => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const a = await cluster.campaign(c.id);
    const cpu0 = cpu();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = await cluster.campaign(c.id);
    const used = cpu() - cpu0;
    return { wall: (b.execs - a.execs) / ((performance.now() - t0) / 1000), perCpu: (b.execs - a.execs) / used };
  } finally {
    await cluster.dispose();
  }
}

/** utime + stime of a process in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (1-based), i.e. 11 and 12 after the command name and state.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Play FAKE_WORKERS one-core workers against a real coordinator: heartbeats
 * (so it keeps 2 batches per executor thread out), and for every batch it
 * issues a BatchResult at once (standing for one worker-second of fuzzing at
 * `execsPerResult` execs/s; one in ten carries a new corpus input). So the
 * coordinator's CPU covers its whole loop: building and publishing batches
 * (corpus sample, coverage bitmap) and applying and persisting results.
 */
export async function coordinatorCost(results: number, execsPerResult: number, log: (l: string) => void): Promise<number> {
  const FAKE_WORKERS = 100;
  const cluster = await Cluster.start({ batchMs: 1000 });
  const timers: NodeJS.Timeout[] = [];
  try {
    const coord = await cluster.startCoordinator();
    const nc = await cluster.connection('worker');
    const beat = (): void => {
      for (let w = 0; w < FAKE_WORKERS; w++) {
        nc.publish(`ff.hb.w-synthetic-${w}`, encodeHeartbeat({
          workerId: `w-synthetic-${w}`, host: 'bench', pid: w, procs: 1, busy: 1, campaigns: [], execs: 0, uptimeSec: 1, running: [], kernelConfirm: false, confirming: [],
        }));
      }
    };
    beat();
    timers.push(setInterval(beat, 1000));
    const c = await cluster.api.createCampaign({ bugs: [] });
    const js = nc.jetstream();
    const consumer = await js.consumers.get(STREAMS.work, CONSUMERS.batches);
    const rng = new FuzzRng(1);
    const programs = Array.from({ length: 50 }, () => generateProgram(rng));
    const pid = coord.child.pid!;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    let sent = 0;
    while (sent < results) {
      const iter = await consumer.fetch({ max_messages: 200, expires: 1000 });
      const pubs: Promise<unknown>[] = [];
      for await (const m of iter) {
        const b = decodeWorkBatch(m.data, m.subject);
        const i = sent++;
        const withInput = i % 10 === 0;
        pubs.push(js.publish('ff.results.batch', encodeBatchResult({
          workerId: `w-synthetic-${i % FAKE_WORKERS}`, campaignId: b.campaignId, batchId: b.batchId, execs: execsPerResult, timeouts: 0,
          newInputs: withInput ? [{ program: programs[(i / 10) % programs.length]!, points: [i % 65536, (i * 7) % 65536, (i * 13) % 65536], newPoints: 1 }] : [],
          findings: [], harness: [], ms: 1000, delivery: 1,
        }), { msgID: b.batchId }));
        m.ack();
        if (sent >= results) break;
      }
      await Promise.all(pubs);
    }
    const want = results * execsPerResult;
    await waitFor('every synthetic result applied', async () => (await cluster.campaign(c.id)).execs >= want, 300_000, 100);
    const cpu = cpuSeconds(pid) - cpu0;
    const wall = (performance.now() - t0) / 1000;
    log(`  coordinator: ${results} batches issued and their results (${execsPerResult} execs each) applied in ${wall.toFixed(1)} s wall ` +
      `(${(results / wall).toFixed(0)}/s, ${FAKE_WORKERS} simulated workers), ${cpu.toFixed(2)} s coordinator CPU: ${((cpu / results) * 1e6).toFixed(0)} us per batch`);
    return cpu / results;
  } finally {
    for (const t of timers) clearInterval(t);
    await cluster.dispose();
  }
}

export async function benchCluster(o: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const problems: string[] = [];
  const embedded: number[] = [];
  const clustered: number[] = [];
  for (const n of [1, 2]) {
    const e = await embeddedRate(n, o.seconds, o.seed);
    const c = await clusterRate(n, o.seconds, o.seed);
    embedded.push(e.perCpu);
    clustered.push(c.perCpu);
    o.log(`  ${n} fuzzing thread${n > 1 ? 's' : ''}: embedded ${e.wall.toFixed(0)} execs/s (${e.perCpu.toFixed(0)} per CPU-second), ` +
      `cluster with ${n} worker process${n > 1 ? 'es' : ''} ${c.wall.toFixed(0)} execs/s (${c.perCpu.toFixed(0)} per CPU-second of the workers); ` +
      `ratio per core ${(c.perCpu / e.perCpu).toFixed(2)}`);
  }
  const perCore = embedded[0]!;
  const cpuPerResult = await coordinatorCost(o.results, Math.max(1, Math.round(perCore)), o.log);
  // cpuPerResult: CPU seconds per batch round trip (issue + apply); one batch per worker-second at perCore execs.
  const cpuPer1000 = (cpuPerResult / perCore) * 1000;
  const workers = 1 / cpuPerResult;
  o.log(`  coordinator CPU per 1,000 execs/s: ${(cpuPer1000 * 1000).toFixed(1)} ms/s; one coordinator core feeds ~${workers.toFixed(0)} one-core workers (one 1 s batch each per second)`);
  const ratio = clustered.map((c, i) => c / embedded[i]!);
  if (ratio.some((r) => r < 0.9)) problems.push(`cluster/embedded throughput per core ${ratio.map((r) => r.toFixed(2)).join(', ')} below the 0.9 target`);
  if (workers < 500) problems.push(`projected ${workers.toFixed(0)} workers per coordinator, below the 500 target`);
  return { ok: problems.length === 0, problems, embedded, cluster: clustered, cpuPer1000ExecsPerSec: cpuPer1000, workersPerCoordinator: workers };
}

// `npm run bench -- cluster`: what the cluster costs against the embedded engine.
//
// 1. Throughput: execs/s of an embedded campaign (`fuzz`, N worker threads)
//    against a cluster campaign (real nats-server, coordinator and N worker
//    processes of one executor thread each), every switch off, for N = 1, 2;
//    the ratio is per core (same number of fuzzing threads).
// 2. Coordinator cost: a coordinator process with no workers is fed synthetic
//    BatchResults (each standing for one worker-second of fuzzing at the
//    measured per-core rate, one in ten carrying a new corpus input) as fast as
//    NATS takes them; its CPU time (from /proc) per result gives the CPU per
//    1,000 execs/s and how many one-core workers one coordinator core can feed.

import { readFileSync } from 'node:fs';
import { runCampaign } from '../../worker/fuzz/campaign.js';
import { generateProgram } from '../../worker/fuzz/generate.js';
import { FuzzRng } from '../../worker/fuzz/rng.js';
import { encodeBatchResult } from '../../worker/cluster/wire.js';
import type { CampaignInfo } from '../../coordinator/api.js';
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

async function embeddedRate(threads: number, seconds: number, seed: number): Promise<number> {
  // The campaign's own rate includes its start; measure the steady part by difference.
  const short = await runCampaign({ bugs: [], workers: threads, seed, feedback: true, minimize: false, durationSec: WARMUP_SEC });
  const long = await runCampaign({ bugs: [], workers: threads, seed, feedback: true, minimize: false, durationSec: WARMUP_SEC + seconds });
  return (long.execs - short.execs) / (long.durationSec - short.durationSec);
}

async function clusterRate(workers: number, seconds: number, seed: number): Promise<number> {
  const cluster = await Cluster.start({ batchMs: 1000 });
  try {
    await cluster.startCoordinator();
    for (let i = 0; i < workers; i++) await cluster.startWorker(1);
    const c = await cluster.ctl<CampaignInfo>('create', { bugs: [], seed });
    await waitFor('the campaign to start', async () => (await cluster.campaign(c.id)).execs > 0, 60_000);
    await new Promise((r) => setTimeout(r, WARMUP_SEC * 1000));
    const a = await cluster.campaign(c.id);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = await cluster.campaign(c.id);
    return (b.execs - a.execs) / ((performance.now() - t0) / 1000);
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

async function coordinatorCost(results: number, execsPerResult: number, log: (l: string) => void): Promise<number> {
  const cluster = await Cluster.start({ batchMs: 1000 });
  try {
    const coord = await cluster.startCoordinator();
    const c = await cluster.ctl<CampaignInfo>('create', { bugs: [] });
    const nc = await cluster.connection();
    const js = nc.jetstream();
    const rng = new FuzzRng(1);
    const programs = Array.from({ length: 50 }, () => generateProgram(rng));
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < results; i++) {
      const withInput = i % 10 === 0;
      payloads.push(encodeBatchResult({
        workerId: `w-synthetic-${i % 500}`, campaignId: c.id, batchId: `${c.id}-s${i}`, execs: execsPerResult, timeouts: 0,
        newInputs: withInput ? [{ program: programs[(i / 10) % programs.length]!, points: [i % 65536, (i * 7) % 65536, (i * 13) % 65536], newPoints: 1 }] : [],
        findings: [], harness: [], ms: 1000, delivery: 1,
      }));
    }
    const pid = coord.child.pid!;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    for (let i = 0; i < payloads.length; i += 200) {
      await Promise.all(payloads.slice(i, i + 200).map((p, k) => js.publish('ff.results.batch', p, { msgID: `${c.id}-s${i + k}` })));
    }
    const published = (performance.now() - t0) / 1000;
    const want = results * execsPerResult;
    await waitFor('every synthetic result applied', async () => (await cluster.campaign(c.id)).execs >= want, 300_000, 100);
    const cpu = cpuSeconds(pid) - cpu0;
    const wall = (performance.now() - t0) / 1000;
    log(`  coordinator: ${results} results (${execsPerResult} execs each) published in ${published.toFixed(1)} s and applied in ${wall.toFixed(1)} s wall ` +
      `(the publisher is the limit), ${cpu.toFixed(2)} s coordinator CPU: ${((cpu / results) * 1e6).toFixed(0)} us per result`);
    return cpu / results;
  } finally {
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
    embedded.push(e);
    clustered.push(c);
    o.log(`  ${n} fuzzing thread${n > 1 ? 's' : ''}: embedded ${e.toFixed(0)} execs/s, cluster (${n} worker process${n > 1 ? 'es' : ''}) ${c.toFixed(0)} execs/s, ratio ${(c / e).toFixed(2)}`);
  }
  const perCore = embedded[0]!;
  const cpuPerResult = await coordinatorCost(o.results, Math.max(1, Math.round(perCore)), o.log);
  // One result per worker-second at perCore execs: CPU-seconds per second per 1,000 execs/s.
  const cpuPer1000 = (cpuPerResult / perCore) * 1000;
  const workers = 1 / cpuPerResult;
  o.log(`  coordinator CPU per 1,000 execs/s: ${(cpuPer1000 * 1000).toFixed(1)} ms/s; one coordinator core feeds ~${workers.toFixed(0)} one-core workers (1 result/s each)`);
  const ratio = clustered.map((c, i) => c / embedded[i]!);
  if (ratio.some((r) => r < 0.9)) problems.push(`cluster/embedded throughput ratio ${ratio.map((r) => r.toFixed(2)).join(', ')} below the 0.9 target (the machine is shared; see the figures)`);
  if (workers < 500) problems.push(`projected ${workers.toFixed(0)} workers per coordinator, below the 500 target`);
  return { ok: problems.length === 0, problems, embedded, cluster: clustered, cpuPer1000ExecsPerSec: cpuPer1000, workersPerCoordinator: workers };
}

// `foliofuzz worker --nats URL [--procs N] [--metrics HOST:PORT] [--kernel-confirm]`:
// a cluster worker process with N executor threads (worker/cluster/worker.ts);
// with --kernel-confirm it also runs the kernel confirmations the coordinator
// sends it, which needs root (loop devices, mount) and the native executor:
// checked at start, so a worker never advertises what it cannot do.

import { availableParallelism } from 'node:os';
import { makeLogger } from '../cluster/log.js';
import { parseHostPort } from '../cluster/metrics.js';
import { MAX_PROCS } from '../cluster/wire.js';
import { ClusterWorker, newWorkerId } from '../cluster/worker.js';
import { ProgramInputError } from '../prog/errors.js';
import { type NatsFlags, natsOptions, onShutdown } from './cluster-flags.js';

export interface WorkerArgs extends NatsFlags {
  procs?: string;
  metrics?: string;
  kernelConfirm?: boolean;
}

/** Why this process cannot run kernel confirmations, or null. */
async function kernelConfirmProblem(): Promise<string | null> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return '--kernel-confirm: the kernel twin makes loop filesystems and mounts them, which needs root; run this worker as root';
  }
  const { findExecutor } = await import('../twin/executor.js');
  try {
    findExecutor();
    return null;
  } catch (e) {
    return `--kernel-confirm: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export async function workerCommand(args: WorkerArgs): Promise<number> {
  const workerId = newWorkerId();
  const log = makeLogger('worker');
  let nats;
  let procs = availableParallelism();
  let metrics;
  try {
    nats = natsOptions(args, `foliofuzz-${workerId}`, 'worker');
    if (args.procs !== undefined) {
      if (!/^\d+$/.test(args.procs) || Number(args.procs) < 1 || Number(args.procs) > MAX_PROCS) {
        throw new ProgramInputError(`--procs: '${args.procs}' is not an integer in [1, ${MAX_PROCS}]`);
      }
      procs = Number(args.procs);
    }
    if (args.metrics !== undefined) metrics = parseHostPort('--metrics', args.metrics);
    const problem = args.kernelConfirm ? await kernelConfirmProblem() : null;
    if (problem !== null) throw new ProgramInputError(problem);
  } catch (e) {
    if (e instanceof Error) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const worker = new ClusterWorker({ nats, procs, log, workerId, ...(metrics ? { metrics } : {}), kernelConfirm: args.kernelConfirm === true });
  onShutdown(() => worker.stop());
  await worker.start();
  await worker.waitStopped();
  return 0;
}

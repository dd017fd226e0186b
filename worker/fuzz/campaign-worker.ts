// The worker thread of an embedded campaign: a fuzzing loop that reports in
// batches, takes corpus inputs other workers found, and minimizes findings
// when the coordinator asks. It runs synchronously for a batch, then yields to
// the event loop so messages get in.

import { parentPort } from 'node:worker_threads';
import { type BugName, findBug } from '../sim/bugs.js';
import { minimize, runBatch } from './batch.js';
import { Fuzzer } from './fuzzer.js';
import type { FromWorker, MinimizeRequest, ToWorker, WorkerStart } from './messages.js';

const port = parentPort;
if (!port) throw new Error('campaign-worker: not started as a worker thread');

let fuzzer: Fuzzer | null = null;
let start: WorkerStart | null = null;
let running = false;
/** Executions run so far, against start.maxExecs. */
let execs = 0;
const minimizeQueue: MinimizeRequest[] = [];

function post(m: FromWorker): void {
  port!.postMessage(m);
}

function bugsOf(names: string[]): Set<BugName> {
  const out = new Set<BugName>();
  for (const n of names) {
    const b = findBug(n);
    if (b) out.add(b.name);
  }
  return out;
}

function loop(): void {
  if (!start || !fuzzer) return;
  const job = minimizeQueue.shift();
  if (job) post(minimize(job, bugsOf(start.bugs)));
  else if (running) {
    const report = runBatch(fuzzer, start.batchMs, start.maxExecs > 0 ? start.maxExecs - execs : 0);
    execs += report.execs;
    if (start.maxExecs > 0 && execs >= start.maxExecs) running = false;
    post(report);
  }
  if (running || minimizeQueue.length) setImmediate(loop);
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start':
      start = m;
      fuzzer = new Fuzzer({
        seed: m.seed, bugs: bugsOf(m.bugs), feedback: m.feedback, scenes: m.scenes, aliasCoverage: m.aliasCoverage, timeoutMs: m.timeoutMs,
        ...(m.schedule ? { schedule: m.schedule } : {}),
      });
      running = true;
      setImmediate(loop);
      break;
    case 'inputs':
      for (const i of m.inputs) fuzzer?.addInput(i.program, i.points);
      break;
    case 'minimize': {
      const idle = !running && minimizeQueue.length === 0;
      minimizeQueue.push(m);
      if (idle) setImmediate(loop);
      break;
    }
    case 'pause':
      running = false;
      break;
    case 'stop':
      running = false;
      port.close();
      break;
  }
});

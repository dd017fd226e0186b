// The worker thread of an embedded campaign: a fuzzing loop that reports in
// batches, takes corpus inputs other workers found, and minimizes findings
// when the coordinator asks. It runs synchronously for a batch, then yields to
// the event loop so messages get in.

import { parentPort } from 'node:worker_threads';
import type { Program } from '../prog/types.js';
import { type BugName, findBug } from '../sim/bugs.js';
import { executeProgram } from './executor.js';
import { Fuzzer } from './fuzzer.js';
import type { BatchFinding, BatchReport, FromWorker, MinimizeReport, ToWorker, WorkerStart } from './messages.js';
import { minimizeProgram, programSize } from './minimize.js';

const port = parentPort;
if (!port) throw new Error('campaign-worker: not started as a worker thread');

let fuzzer: Fuzzer | null = null;
let start: WorkerStart | null = null;
let running = false;
const minimizeQueue: Extract<ToWorker, { type: 'minimize' }>[] = [];

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

function runBatch(f: Fuzzer, ms: number): BatchReport {
  const report: BatchReport = { type: 'batch', execs: 0, timeouts: 0, newInputs: [], findings: [], harness: [] };
  const until = performance.now() + ms;
  do {
    const r = f.runOne();
    report.execs++;
    switch (r.kind) {
      case 'new-coverage':
        report.newInputs.push({ program: r.program, points: r.points, newPoints: r.newPoints });
        break;
      case 'finding':
        report.findings.push({ program: r.program, violation: r.violation, at: report.execs });
        break;
      case 'harness':
        report.harness.push({ program: r.program, error: r.error });
        break;
      case 'timeout':
        report.timeouts++;
        break;
      case 'ok':
        break;
    }
  } while (performance.now() < until);
  return report;
}

function minimize(job: Extract<ToWorker, { type: 'minimize' }>, bugs: Set<BugName>): MinimizeReport {
  const t0 = performance.now();
  const slipped: BatchFinding[] = [];
  const opsBefore = programSize(job.program);
  try {
    const res = minimizeProgram(job.program, {
      bugs,
      signature: job.signature,
      maxRuns: job.maxRuns,
      deadlineMs: job.deadlineMs,
      onNewFinding: (_sig: string, program: Program) => {
        const out = executeProgram(program, { bugs, timeoutMs: 5_000 });
        if (out.kind === 'finding') slipped.push({ program, violation: out.violation, at: 0 });
      },
    });
    return {
      type: 'minimized', signature: job.signature, program: res.program, opsBefore, opsAfter: res.opsAfter,
      runs: res.runs, ms: performance.now() - t0, slipped,
    };
  } catch (e) {
    return {
      type: 'minimized', signature: job.signature, program: null, opsBefore, opsAfter: opsBefore, runs: 0,
      ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e), slipped,
    };
  }
}

function loop(): void {
  if (!start || !fuzzer) return;
  const job = minimizeQueue.shift();
  if (job) post(minimize(job, bugsOf(start.bugs)));
  else if (running) post(runBatch(fuzzer, start.batchMs));
  if (running || minimizeQueue.length) setImmediate(loop);
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start':
      start = m;
      fuzzer = new Fuzzer({
        seed: m.seed, bugs: bugsOf(m.bugs), feedback: m.feedback, timeoutMs: m.timeoutMs,
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

// An executor thread of a cluster worker process: runs one batch, verify or
// minimize job at a time for the process's main thread, which talks to NATS.
//
// It keeps a warm Fuzzer per campaign across batches (its corpus and coverage
// grow with every batch, so mutation has parents from the first execution of
// the next batch). That is only a speed-up: each batch carries the corpus
// inputs and the coverage the coordinator knows, and the coordinator decides
// again what is new, so a cold thread, another process or a redelivery gives
// correct results too.

import { parentPort } from 'node:worker_threads';
import { programId } from '../../corpus/store.js';
import { minimize, runBatch } from '../fuzz/batch.js';
import { executeProgram } from '../fuzz/executor.js';
import { Fuzzer } from '../fuzz/fuzzer.js';
import type { ExecutorReply, ExecutorRequest } from './executor-messages.js';
import type { WorkBatch } from './wire.js';
import { bitmapPoints } from './wire.js';

const port = parentPort;
if (!port) throw new Error('executor-thread: not started as a worker thread');

interface Warm {
  fuzzer: Fuzzer;
  known: Set<string>;
  key: string;
}

/** Campaigns whose fuzzer stays warm (least recently used dropped first). */
const MAX_WARM = 4;
const warm = new Map<string, Warm>();
const VERIFY_TIMEOUT_MS = 10_000;

function fuzzerFor(b: WorkBatch): Fuzzer {
  // Settings are part of the key: a campaign's settings never change, but a
  // stale entry must not be reused for a batch that asks for something else.
  const key = `${b.bugs.join(',')}|${b.feedback}|${b.schedule ?? ''}|${b.timeoutMs}`;
  let w = warm.get(b.campaignId);
  if (!w || w.key !== key) {
    w = {
      fuzzer: new Fuzzer({
        seed: b.seed, bugs: new Set(b.bugs), feedback: b.feedback, timeoutMs: b.timeoutMs,
        ...(b.schedule ? { schedule: b.schedule } : {}),
      }),
      known: new Set(), key,
    };
  }
  warm.delete(b.campaignId);
  warm.set(b.campaignId, w);
  while (warm.size > MAX_WARM) warm.delete(warm.keys().next().value!);
  for (const input of b.inputs) {
    const id = programId(input.program);
    if (w.known.has(id)) continue;
    w.known.add(id);
    w.fuzzer.addInput(input.program, input.points);
  }
  // What the campaign already covers is not news: only report what is new to it.
  if (b.coverage.length) w.fuzzer.coverage.add(bitmapPoints(b.coverage));
  return w.fuzzer;
}

function handle(req: ExecutorRequest): ExecutorReply {
  switch (req.type) {
    case 'batch': {
      const t0 = performance.now();
      const report = runBatch(fuzzerFor(req.batch), req.batch.execMs, req.batch.maxExecs);
      return { type: 'batch', id: req.id, report, ms: performance.now() - t0 };
    }
    case 'verify': {
      const out = executeProgram(req.job.program, { bugs: new Set(req.job.bugs), timeoutMs: VERIFY_TIMEOUT_MS });
      const observed = out.kind === 'finding' ? out.violation.signature : '';
      return { type: 'verify', id: req.id, observed, note: out.kind === 'finding' || out.kind === 'ok' ? '' : out.kind };
    }
    case 'minimize': {
      const j = req.job;
      const report = minimize({
        type: 'minimize', jobId: j.jobId, signature: j.signature, program: j.program, maxRuns: j.maxRuns, deadlineMs: j.deadlineMs,
      }, new Set(j.bugs));
      return { type: 'minimize', id: req.id, report };
    }
  }
}

port.on('message', (req: ExecutorRequest) => {
  try {
    port.postMessage(handle(req));
  } catch (err) {
    const reply: ExecutorReply = { type: 'error', id: req.id, error: err instanceof Error ? err.stack ?? err.message : String(err) };
    port.postMessage(reply);
  }
});

// The coordinator's Prometheus metrics: its own registry (never prom-client's
// global one) with the default process metrics. Labels stay low-cardinality:
// a campaign id (this coordinator makes them), an invariant kind, the stream
// a dead letter came from, one of a few subject names, a kernel verdict's
// kind (one of three; a verdict of any other kind is refused). None is a
// value a worker chooses freely (an id, a subject): a label per forged id
// would make a series per forged id.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BATCH_SECONDS_BUCKETS } from '../worker/cluster/metrics.js';

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];
  readonly execs = new Counter({ name: 'fuzz_execs_total', help: 'Programs executed, by campaign', labelNames: ['campaign'], registers: this.r });
  readonly corpus = new Gauge({ name: 'fuzz_corpus_programs', help: 'Corpus programs, by campaign', labelNames: ['campaign'], registers: this.r });
  readonly coverage = new Gauge({ name: 'fuzz_coverage_points', help: 'Coverage points reached, by campaign', labelNames: ['campaign'], registers: this.r });
  readonly findings = new Counter({
    name: 'fuzz_findings_total', help: 'Distinct findings reported (cross-checked on a second worker), by kind (WARN, BUG, INVARIANT, DATA, DEADLOCK, LIVELOCK)',
    labelNames: ['kind'], registers: this.r,
  });
  readonly unique = new Gauge({ name: 'fuzz_unique_signatures', help: 'Distinct signatures reported, by campaign', labelNames: ['campaign'], registers: this.r });
  readonly minimizeQueue = new Gauge({ name: 'fuzz_minimize_queue_depth', help: 'Minimization jobs issued and not finished', registers: this.r });
  readonly kernelVerdicts = new Counter({
    name: 'fuzz_kernel_verdicts_total', help: 'Findings confirmed on a real kernel (a worker started with --kernel-confirm), by verdict (reproduces, not-reproduced, cannot-run)',
    labelNames: ['verdict'], registers: this.r,
  });
  readonly kernelConfirmQueue = new Gauge({
    name: 'fuzz_kernel_confirm_queue_depth', help: 'Findings waiting for their kernel verdict (sent to a worker started with --kernel-confirm, or waiting for one)', registers: this.r,
  });
  readonly minimizeSeconds = new Histogram({
    name: 'fuzz_minimize_duration_seconds', help: 'Worker time of one minimization', buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers: this.r,
  });
  readonly batchSeconds = new Histogram({
    name: 'fuzz_batch_duration_seconds', help: 'Worker wall time of one work batch', buckets: BATCH_SECONDS_BUCKETS, registers: this.r,
  });
  readonly redelivered = new Counter({
    name: 'fuzz_work_redelivered_total', help: 'Work batches whose result came from a second or later delivery (a worker died or stalled)', registers: this.r,
  });
  readonly workers = new Gauge({ name: 'fuzz_workers_connected', help: 'Worker processes whose heartbeat arrived in the last 5 s', registers: this.r });
  readonly refused = new Counter({ name: 'fuzz_payloads_refused_total', help: 'Malformed NATS payloads refused', labelNames: ['subject'], registers: this.r });
  readonly deadLettered = new Counter({
    name: 'fuzz_dead_lettered_total', help: 'Messages that reached the dead-letter stream (refused, or delivered too often), by the stream they came from',
    labelNames: ['stream'], registers: this.r,
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

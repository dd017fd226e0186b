// The cluster's NATS side: connection options (credentials, TLS, reconnect
// forever), subject names, the permissions each role needs, and the
// JetStream streams and consumers (created and kept up to date by the
// coordinator; workers only use them).
//
//   FF_WORK     work queue   ff.work.batch.<campaign>.<batch>  consumer ff-batches  (explicit ack, max_deliver)
//   FF_JOBS     work queue   ff.jobs.verify, ff.jobs.minimize   consumer ff-jobs
//   FF_RESULTS  work queue   ff.results.{batch,verify,minimize,confirm}, deduplicated by Nats-Msg-Id
//                                                               consumer ff-coordinator
//   FF_DEAD     limits       ff.dead.<kind>: what was delivered max_deliver times, or refused
//                                                               consumer ff-dead (the coordinator counts them)
//   (core)      ff.hb.<worker>       heartbeats, every second
//   (core)      ff.confirm.<worker>  a kernel confirmation job, to that worker only
//
// A kernel confirmation job is for the workers started with --kernel-confirm
// (root, loop devices: not every worker can run one), so it is in no shared
// queue: the coordinator sends it to one of them, keeps the workers it sent
// it to, and sends it again while that worker's heartbeats stop or stop
// listing it (coordinator/confirm-dispatch.ts).
//
// Every message of FF_WORK has a subject of its own (the batch id is in it),
// so the coordinator can see which batches are queued from the stream's
// subject counts, and remove one batch, or one campaign's, message by
// message: purging a work queue by subject makes nats-server 2.9 skip the
// other subjects' messages under the shared consumer.
//
// Results are removed once the coordinator acks them (FF_RESULTS is a work
// queue): the broker keeps what is not applied yet, not a week of history.

import { readFileSync } from 'node:fs';
import {
  AckPolicy, type ConnectionOptions, type ConsumerConfig, credsAuthenticator, DeliverPolicy, DiscardPolicy, type JetStreamManager,
  type NatsConnection, RetentionPolicy, StorageType, type StreamConfig, connect, nanos,
} from 'nats';

export const SUBJECTS = {
  /** One batch of one campaign. */
  batch: (campaignId: string, batchId: string): string => `ff.work.batch.${campaignId}.${batchId}`,
  /** Every batch of one campaign. */
  campaignBatches: (campaignId: string): string => `ff.work.batch.${campaignId}.>`,
  batchAll: 'ff.work.>',
  batches: 'ff.work.batch.>',
  verifyJob: 'ff.jobs.verify',
  minimizeJob: 'ff.jobs.minimize',
  jobsAll: 'ff.jobs.>',
  batchResult: 'ff.results.batch',
  verifyResult: 'ff.results.verify',
  minimizeResult: 'ff.results.minimize',
  confirmResult: 'ff.results.confirm',
  /** A kernel confirmation job for one worker started with --kernel-confirm. */
  confirmJob: (workerId: string): string => `ff.confirm.${workerId}`,
  confirmJobAll: 'ff.confirm.*',
  resultsAll: 'ff.results.>',
  dead: (kind: DeadKind): string => `ff.dead.${kind}`,
  deadAll: 'ff.dead.>',
  heartbeat: (workerId: string): string => `ff.hb.${workerId}`,
  heartbeatAll: 'ff.hb.*',
} as const;

/** What a dead letter was: a work batch, a verify or minimize job, a result. */
export type DeadKind = 'batch' | 'job' | 'result';

const BATCH_PREFIX = 'ff.work.batch.';

/** The campaign and batch a work subject names (the batch is absent on subjects of versions before one subject per batch). */
export function parseBatchSubject(subject: string): { campaignId: string; batchId?: string } | null {
  if (!subject.startsWith(BATCH_PREFIX)) return null;
  const rest = subject.slice(BATCH_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot < 0) return rest ? { campaignId: rest } : null;
  return dot > 0 && dot < rest.length - 1 ? { campaignId: rest.slice(0, dot), batchId: rest.slice(dot + 1) } : null;
}

export const STREAMS = { work: 'FF_WORK', jobs: 'FF_JOBS', results: 'FF_RESULTS', dead: 'FF_DEAD' } as const;
export const CONSUMERS = { batches: 'ff-batches', jobs: 'ff-jobs', coordinator: 'ff-coordinator', dead: 'ff-dead' } as const;

/** A batch delivered this many times without an ack goes to the dead-letter stream. */
export const BATCH_MAX_DELIVER = 5;
/** A job the finder keeps refusing (it waits for another worker) may come back this often. */
export const JOB_MAX_DELIVER = 200;
/** How long a pulled batch may go without an ack or a working() before it is redelivered. */
export const BATCH_ACK_WAIT_MS = 6_000;
export const JOB_ACK_WAIT_MS = 20_000;
export const RESULT_ACK_WAIT_MS = 30_000;
/** Messages published twice with one Nats-Msg-Id within this window are stored once. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;
/** The dead-letter stream keeps at most this much (the oldest go first) and this long. */
export const DEAD_MAX_BYTES = 1024 ** 3;
export const DEAD_MAX_AGE_MS = 30 * 24 * 3600_000;
/** Results the coordinator has not applied wait this long at most (it is down for a week?). */
export const RESULTS_MAX_AGE_MS = 7 * 24 * 3600_000;

export const MAX_DELIVERIES_ADVISORY = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>';

/** A dead letter's Nats-Msg-Id: the stream and sequence it came from, so moving one message twice stores it once. */
export function deadLetterId(stream: string, seq: number): string {
  return `dead-${stream}-${seq}`;
}

/**
 * The `subject` label of fuzz_payloads_refused_total: one of a fixed few
 * values, whatever the subject (a heartbeat's names its worker, a batch's its
 * campaign and batch: as labels they would make a series per forged id).
 */
export function refusedSubjectLabel(subject: string): string {
  for (const known of [SUBJECTS.batchResult, SUBJECTS.verifyResult, SUBJECTS.minimizeResult, SUBJECTS.confirmResult, SUBJECTS.verifyJob, SUBJECTS.minimizeJob]) {
    if (subject === known) return known;
  }
  if (subject.startsWith('ff.confirm.')) return 'ff.confirm';
  if (subject.startsWith(BATCH_PREFIX)) return 'ff.work.batch';
  if (subject.startsWith('ff.hb.')) return 'ff.hb';
  if (subject.startsWith('$JS.EVENT.ADVISORY.')) return 'advisory';
  return 'other';
}

// ---------------------------------------------------------------------------
// Roles and their permissions. The coordinator and the workers connect as
// different NATS users; the server (its config: the README's Cluster
// section, deploy/) lets each publish and subscribe only where it must. A
// worker publishes results and heartbeats and takes work from its two
// consumers and kernel confirmation jobs from ff.confirm.<its id>; it never
// publishes work, jobs or advisories, never reads results, never manages
// streams. Each role has its own inbox prefix, so a worker cannot listen to
// the coordinator's replies. (NATS permissions cannot name "its own id": a
// worker's user may listen to every worker's confirmation jobs, which carry
// nothing a worker does not see in its batches anyway.)

export type NatsRole = 'coordinator' | 'worker';

export const INBOX_PREFIX: Record<NatsRole, string> = { coordinator: '_INBOX_ffc', worker: '_INBOX_ffw' };

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

function pullFrom(stream: string, consumer: string): string[] {
  return [`$JS.API.CONSUMER.INFO.${stream}.${consumer}`, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, `$JS.ACK.${stream}.${consumer}.>`];
}

export const PERMISSIONS: Record<NatsRole, Permissions> = {
  coordinator: {
    publish: [
      SUBJECTS.batches, SUBJECTS.jobsAll, SUBJECTS.confirmJobAll, SUBJECTS.deadAll, '$JS.API.>',
      `$JS.ACK.${STREAMS.results}.${CONSUMERS.coordinator}.>`, `$JS.ACK.${STREAMS.dead}.${CONSUMERS.dead}.>`,
    ],
    subscribe: [`${INBOX_PREFIX.coordinator}.>`, SUBJECTS.heartbeatAll, MAX_DELIVERIES_ADVISORY],
  },
  worker: {
    publish: [
      SUBJECTS.resultsAll, SUBJECTS.heartbeatAll, SUBJECTS.dead('batch'), SUBJECTS.dead('job'),
      ...pullFrom(STREAMS.work, CONSUMERS.batches), ...pullFrom(STREAMS.jobs, CONSUMERS.jobs),
    ],
    // A worker listens on the kernel confirmation subject of its own id only (worker/cluster/kernel-confirmer.ts).
    subscribe: [`${INBOX_PREFIX.worker}.>`, SUBJECTS.confirmJobAll],
  },
};

export interface NatsOptions {
  url: string;
  /** A NATS credentials file (JWT + nkey seed). */
  credsFile?: string;
  /** User and password (the server's authorization block). */
  user?: string;
  password?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Client name the server shows. */
  name: string;
  /** Which role connects: it decides the inbox prefix (the permissions allow each role its own). */
  role: NatsRole;
}

export function connectionOptions(o: NatsOptions): ConnectionOptions {
  const servers = o.url.split(',').map((s) => s.trim()).filter(Boolean);
  const opts: ConnectionOptions = {
    servers,
    name: o.name,
    inboxPrefix: INBOX_PREFIX[o.role],
    // Reconnect forever: a restarted nats-server must not end a long campaign.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 3,
  };
  if (o.credsFile !== undefined) opts.authenticator = credsAuthenticator(readFileSync(o.credsFile));
  if (o.user !== undefined) {
    opts.user = o.user;
    if (o.password !== undefined) opts.pass = o.password;
  }
  if (o.tlsCa !== undefined || o.tlsCert !== undefined || o.tlsKey !== undefined) {
    if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new Error('--nats-tls-cert and --nats-tls-key go together');
    opts.tls = {
      ...(o.tlsCa !== undefined ? { caFile: o.tlsCa } : {}),
      ...(o.tlsCert !== undefined ? { certFile: o.tlsCert } : {}),
      ...(o.tlsKey !== undefined ? { keyFile: o.tlsKey } : {}),
    };
  }
  return opts;
}

export function connectNats(o: NatsOptions): Promise<NatsConnection> {
  return connect(connectionOptions(o));
}

// ---------------------------------------------------------------------------
// Topology

export function streamConfigs(): Partial<StreamConfig>[] {
  const common = { storage: StorageType.File, num_replicas: 1, duplicate_window: nanos(DUPLICATE_WINDOW_MS) };
  return [
    { ...common, name: STREAMS.work, subjects: [SUBJECTS.batchAll], retention: RetentionPolicy.Workqueue },
    { ...common, name: STREAMS.jobs, subjects: [SUBJECTS.jobsAll], retention: RetentionPolicy.Workqueue },
    { ...common, name: STREAMS.results, subjects: [SUBJECTS.resultsAll], retention: RetentionPolicy.Workqueue, max_age: nanos(RESULTS_MAX_AGE_MS) },
    {
      ...common, name: STREAMS.dead, subjects: [SUBJECTS.deadAll], retention: RetentionPolicy.Limits,
      max_age: nanos(DEAD_MAX_AGE_MS), max_bytes: DEAD_MAX_BYTES, discard: DiscardPolicy.Old,
    },
  ];
}

function consumerConfigs(): [string, Partial<ConsumerConfig>][] {
  const common = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 10_000 };
  return [
    [STREAMS.work, { ...common, durable_name: CONSUMERS.batches, ack_wait: nanos(BATCH_ACK_WAIT_MS), max_deliver: BATCH_MAX_DELIVER }],
    [STREAMS.jobs, { ...common, durable_name: CONSUMERS.jobs, ack_wait: nanos(JOB_ACK_WAIT_MS), max_deliver: JOB_MAX_DELIVER }],
    [STREAMS.results, { ...common, durable_name: CONSUMERS.coordinator, ack_wait: nanos(RESULT_ACK_WAIT_MS), max_deliver: -1 }],
    [STREAMS.dead, { ...common, durable_name: CONSUMERS.dead, ack_wait: nanos(RESULT_ACK_WAIT_MS), max_deliver: -1 }],
  ];
}

function isNotFound(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /not found/i.test(msg) || (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '404');
}

/** The limits this version sets that an existing stream may lack (a stream made by an older version): they can be changed in place. */
const UPDATABLE: readonly (keyof StreamConfig)[] = ['max_age', 'max_bytes', 'duplicate_window', 'discard'];

/**
 * Create the streams and consumers that do not exist yet, and bring an
 * existing stream's limits to this version's. A stream's retention cannot
 * change in place: a difference there is reported through `warn` (the
 * README's Operations section says how to move over).
 */
export async function ensureTopology(jsm: JetStreamManager, warn: (msg: string) => void = () => undefined): Promise<void> {
  for (const cfg of streamConfigs()) {
    let have: StreamConfig | null = null;
    try {
      have = (await jsm.streams.info(cfg.name!)).config;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (have === null) {
      try {
        await jsm.streams.add(cfg);
      } catch (e) {
        // Another coordinator created it in between.
        if (!/already in use/i.test(e instanceof Error ? e.message : String(e))) throw e;
      }
      continue;
    }
    if (have.retention !== cfg.retention) {
      warn(`stream ${cfg.name} has retention ${have.retention}, this version creates it with ${cfg.retention ?? '?'} (see the README, Operations)`);
    }
    const stale = UPDATABLE.filter((k) => cfg[k] !== undefined && have![k] !== cfg[k]);
    if (stale.length > 0) {
      const update: Partial<StreamConfig> = { ...have };
      for (const k of stale) Object.assign(update, { [k]: cfg[k] });
      await jsm.streams.update(cfg.name!, update);
      warn(`stream ${cfg.name}: updated ${stale.join(', ')} to this version's limits`);
    }
  }
  for (const [stream, cfg] of consumerConfigs()) {
    try {
      await jsm.consumers.info(stream, cfg.durable_name!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(stream, cfg);
    }
  }
}

/** Retry `fn` until it succeeds or `signal` aborts (NATS may be restarting). */
export async function retrying<T>(what: string, fn: () => Promise<T>, onError: (msg: string) => void, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted) throw err;
      if (attempt % 10 === 0) onError(`${what}: ${err instanceof Error ? err.message : String(err)} (retrying)`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * (attempt + 1))));
    }
  }
}

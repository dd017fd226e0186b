// The cluster's NATS side: connection options (credentials, TLS, reconnect
// forever), subject names, and the JetStream streams and consumers both the
// coordinator and the workers rely on (created by whichever starts first;
// they only ever add what is missing).
//
//   FF_WORK     work queue   ff.work.batch.<campaign>        consumer ff-batches  (explicit ack, max_deliver)
//   FF_JOBS     work queue   ff.jobs.verify, ff.jobs.minimize consumer ff-jobs
//   FF_RESULTS  limits       ff.results.{batch,verify,minimize}, deduplicated by Nats-Msg-Id
//                                                             consumer ff-coordinator
//   FF_DEAD     limits       ff.dead.<kind>: what was delivered max_deliver times, or refused

import { readFileSync } from 'node:fs';
import {
  AckPolicy, type ConnectionOptions, type ConsumerConfig, credsAuthenticator, DeliverPolicy, type JetStreamManager,
  type NatsConnection, RetentionPolicy, StorageType, type StreamConfig, connect, nanos,
} from 'nats';

export const SUBJECTS = {
  batch: (campaignId: string): string => `ff.work.batch.${campaignId}`,
  batchAll: 'ff.work.>',
  verifyJob: 'ff.jobs.verify',
  minimizeJob: 'ff.jobs.minimize',
  jobsAll: 'ff.jobs.>',
  batchResult: 'ff.results.batch',
  verifyResult: 'ff.results.verify',
  minimizeResult: 'ff.results.minimize',
  resultsAll: 'ff.results.>',
  dead: (kind: string): string => `ff.dead.${kind}`,
  deadAll: 'ff.dead.>',
  heartbeat: (workerId: string): string => `ff.hb.${workerId}`,
  heartbeatAll: 'ff.hb.*',
  workerControl: (workerId: string): string => `ff.ctl.worker.${workerId}`,
} as const;

export const STREAMS = { work: 'FF_WORK', jobs: 'FF_JOBS', results: 'FF_RESULTS', dead: 'FF_DEAD' } as const;
export const CONSUMERS = { batches: 'ff-batches', jobs: 'ff-jobs', coordinator: 'ff-coordinator' } as const;

/** A batch delivered this many times without an ack goes to the dead-letter stream. */
export const BATCH_MAX_DELIVER = 5;
/** A job the finder keeps refusing (it waits for another worker) may come back this often. */
export const JOB_MAX_DELIVER = 200;
/** How long a pulled batch may go without an ack or a working() before it is redelivered. */
export const BATCH_ACK_WAIT_MS = 6_000;
export const JOB_ACK_WAIT_MS = 20_000;
export const RESULT_ACK_WAIT_MS = 30_000;
/** Results published twice with one Nats-Msg-Id within this window are stored once. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export const MAX_DELIVERIES_ADVISORY = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>';

export interface NatsOptions {
  url: string;
  /** A NATS credentials file (JWT + nkey seed). */
  credsFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Client name the server shows. */
  name: string;
}

export function connectionOptions(o: NatsOptions): ConnectionOptions {
  const servers = o.url.split(',').map((s) => s.trim()).filter(Boolean);
  const opts: ConnectionOptions = {
    servers,
    name: o.name,
    // Reconnect forever: a restarted nats-server must not end a long campaign.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 3,
  };
  if (o.credsFile !== undefined) opts.authenticator = credsAuthenticator(readFileSync(o.credsFile));
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

function streamConfigs(): Partial<StreamConfig>[] {
  const common = { storage: StorageType.File, num_replicas: 1 };
  return [
    { ...common, name: STREAMS.work, subjects: [SUBJECTS.batchAll], retention: RetentionPolicy.Workqueue, duplicate_window: nanos(DUPLICATE_WINDOW_MS) },
    { ...common, name: STREAMS.jobs, subjects: [SUBJECTS.jobsAll], retention: RetentionPolicy.Workqueue, duplicate_window: nanos(DUPLICATE_WINDOW_MS) },
    {
      ...common, name: STREAMS.results, subjects: [SUBJECTS.resultsAll], retention: RetentionPolicy.Limits,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS), max_age: nanos(7 * 24 * 3600_000),
    },
    { ...common, name: STREAMS.dead, subjects: [SUBJECTS.deadAll], retention: RetentionPolicy.Limits, max_age: nanos(30 * 24 * 3600_000) },
  ];
}

function consumerConfigs(): [string, Partial<ConsumerConfig>][] {
  const common = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 10_000 };
  return [
    [STREAMS.work, { ...common, durable_name: CONSUMERS.batches, ack_wait: nanos(BATCH_ACK_WAIT_MS), max_deliver: BATCH_MAX_DELIVER }],
    [STREAMS.jobs, { ...common, durable_name: CONSUMERS.jobs, ack_wait: nanos(JOB_ACK_WAIT_MS), max_deliver: JOB_MAX_DELIVER }],
    [STREAMS.results, { ...common, durable_name: CONSUMERS.coordinator, ack_wait: nanos(RESULT_ACK_WAIT_MS), max_deliver: -1 }],
  ];
}

function isNotFound(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /not found/i.test(msg) || (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '404');
}

/** Create the streams and consumers that do not exist yet (never changes existing ones). */
export async function ensureTopology(jsm: JetStreamManager): Promise<void> {
  for (const cfg of streamConfigs()) {
    try {
      await jsm.streams.info(cfg.name!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (e) {
        // Another process created it in between.
        if (!/already in use/i.test(e instanceof Error ? e.message : String(e))) throw e;
      }
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

// The cluster's NATS payloads <-> plain data (proto/foliofuzz.proto, section
// "Cluster: NATS payloads").
//
// Everything that arrives over NATS is untrusted: a decode either returns a
// value every field of which was checked (every number in its field's range,
// proto-strict.ts; ids URL-safe, bug names known to this build, programs
// validated by worker/prog/validate.ts, coverage points inside the map) or
// throws a WireError saying which subject and which field.
// Nothing downstream re-checks.

import type { RunViolation } from '../report/violation.js';
import type { BatchFinding, SharedInput } from '../fuzz/messages.js';
import { programToProtoObject } from '../prog/proto-codec.js';
import type { Program, ScheduleStrategy } from '../prog/types.js';
import type { BugName } from '../sim/bugs.js';
import { COV_MAP_SIZE } from '../sim/cov.js';
import { type Fields, type Json, MAX_BATCH_MS, MAX_PROCS, MAX_TEXT, encode, fieldsOf } from './wire-fields.js';

export { MAX_PROCS, WireError } from './wire-fields.js';

export interface WorkBatch {
  campaignId: string;
  batchId: string;
  bugs: BugName[];
  seed: number;
  execMs: number;
  /** 0: no cap. */
  maxExecs: number;
  feedback: boolean;
  schedule?: ScheduleStrategy;
  inputs: SharedInput[];
  /** Bitmap of COV_MAP_SIZE bits, or empty. */
  coverage: Uint8Array;
  timeoutMs: number;
}

/** A finding in a batch result, and how many more times the batch hit its signature. */
export interface ResultFinding extends BatchFinding {
  repeats: number;
}

export interface NewInput extends SharedInput {
  newPoints: number;
}

export interface BatchResult {
  workerId: string;
  campaignId: string;
  batchId: string;
  execs: number;
  timeouts: number;
  newInputs: NewInput[];
  findings: ResultFinding[];
  harness: { program: Program; error: string }[];
  ms: number;
  delivery: number;
}

export interface VerifyJob {
  jobId: string;
  campaignId: string;
  signature: string;
  bugs: BugName[];
  program: Program;
  finderWorkerId: string;
}

export interface VerifyResult {
  jobId: string;
  workerId: string;
  campaignId: string;
  signature: string;
  reproduced: boolean;
  observed: string;
}

export interface MinimizeJob {
  jobId: string;
  campaignId: string;
  signature: string;
  bugs: BugName[];
  program: Program;
  maxRuns: number;
  deadlineMs: number;
}

export interface MinimizeResult {
  jobId: string;
  workerId: string;
  campaignId: string;
  signature: string;
  program: Program | null;
  opsBefore: number;
  opsAfter: number;
  runs: number;
  ms: number;
  error: string;
  slipped: BatchFinding[];
  /** The smallest set of the job's switches the finding needs; null when the worker does not say (one of an earlier version). */
  switches: BugName[] | null;
}

export interface Heartbeat {
  workerId: string;
  host: string;
  pid: number;
  procs: number;
  busy: number;
  campaigns: string[];
  execs: number;
  uptimeSec: number;
  running: string[];
  /** Started with --kernel-confirm (false from workers of versions before it). */
  kernelConfirm: boolean;
  /** The kernel confirmation jobs it holds, running or queued. */
  confirming: string[];
  /** Started with --kernel (false from workers of versions before it). */
  kernelCampaign: boolean;
  /** The kernel batches it holds, running or queued. */
  kernelBatches: string[];
}


// ---------------------------------------------------------------------------
// Findings, inputs

function violationToObject(v: RunViolation): Json {
  return { signature: v.signature, invariant: v.invariant, kind: v.kind, message: v.message, traceTail: v.traceTail, step: v.step };
}

export function foundToObject(f: BatchFinding & { repeats?: number }): Json {
  return { program: programToProtoObject(f.program), violation: violationToObject(f.violation), at: f.at, repeats: f.repeats ?? 0 };
}

function foundFrom(f: Fields): BatchFinding {
  const v = f.sub('violation')!;
  const violation: RunViolation = {
    ...v.signature('signature', 'kind'), invariant: v.text('invariant', true), message: v.text('message'),
    traceTail: v.strings('traceTail', (s) => s), step: v.count('step'), stacks: [],
  };
  return { program: f.requiredProgram('program'), violation, at: f.uint('at') };
}

export function resultFindingFrom(f: Fields): ResultFinding {
  return { ...foundFrom(f), repeats: f.uint('repeats') };
}

/** At most `keep` findings per signature with their programs; the rest only counted. */
export function foldFindings(findings: readonly BatchFinding[], keep = 2): ResultFinding[] {
  const out: ResultFinding[] = [];
  const bySig = new Map<string, ResultFinding[]>();
  for (const f of findings) {
    const kept = bySig.get(f.violation.signature) ?? [];
    bySig.set(f.violation.signature, kept);
    if (kept.length < keep) {
      const r = { ...f, repeats: 0 };
      kept.push(r);
      out.push(r);
    } else {
      kept[kept.length - 1]!.repeats++;
    }
  }
  return out;
}

function inputToObject(i: SharedInput): Json {
  return { program: programToProtoObject(i.program), points: i.points };
}

// ---------------------------------------------------------------------------
// WorkBatch

const SCHEDULE_ENUM: Record<ScheduleStrategy, string> = {
  default: 'SCHEDULE_STRATEGY_DEFAULT', random: 'SCHEDULE_STRATEGY_RANDOM', pct: 'SCHEDULE_STRATEGY_PCT', replay: 'SCHEDULE_STRATEGY_REPLAY',
};

export function encodeWorkBatch(b: WorkBatch): Uint8Array {
  return encode('WorkBatch', {
    campaignId: b.campaignId, batchId: b.batchId, bugs: b.bugs, seed: b.seed >>> 0, execMs: b.execMs, maxExecs: b.maxExecs,
    feedback: b.feedback, schedule: b.schedule ? SCHEDULE_ENUM[b.schedule] : 'SCHEDULE_STRATEGY_UNSPECIFIED',
    inputs: b.inputs.map(inputToObject), coverage: b.coverage, timeoutMs: b.timeoutMs,
  });
}

/** One corpus input as an encoded CorpusInput message (the coordinator caches these). */
export function encodeCorpusInput(i: SharedInput): Uint8Array {
  return encode('CorpusInput', inputToObject(i));
}

const WORK_BATCH_INPUTS_TAG = (9 << 3) | 2;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/**
 * encodeWorkBatch with the inputs already encoded (encodeCorpusInput): a
 * protobuf message is the concatenation of its fields, so the repeated
 * `inputs` field is appended as bytes instead of being encoded again for
 * every batch.
 */
export function encodeWorkBatchEncoded(b: Omit<WorkBatch, 'inputs'>, inputs: readonly Uint8Array[]): Uint8Array {
  const head = encodeWorkBatch({ ...b, inputs: [] });
  let size = head.length;
  const lens = inputs.map((i) => varint(i.length));
  inputs.forEach((i, k) => (size += 1 + lens[k]!.length + i.length));
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  inputs.forEach((i, k) => {
    out[at++] = WORK_BATCH_INPUTS_TAG;
    out.set(lens[k]!, at);
    at += lens[k]!.length;
    out.set(i, at);
    at += i.length;
  });
  return out;
}

export function decodeWorkBatch(buf: Uint8Array, source: string): WorkBatch {
  const f = fieldsOf('WorkBatch', buf, source);
  const coverage = f.bytes('coverage');
  if (coverage.length !== 0 && coverage.length !== COV_MAP_SIZE / 8) f.fail('coverage', `expected ${COV_MAP_SIZE / 8} bytes (or none), got ${coverage.length}`);
  const schedule = f.schedule('schedule');
  return {
    campaignId: f.id('campaignId'), batchId: f.id('batchId'), bugs: f.bugs('bugs'), seed: f.uint('seed'),
    execMs: f.uint('execMs', 1, MAX_BATCH_MS), maxExecs: f.uint('maxExecs'), feedback: f.bool('feedback'),
    ...(schedule ? { schedule } : {}),
    inputs: f.list('inputs').map((i) => ({ program: i.requiredProgram('program'), points: i.points('points') })),
    coverage, timeoutMs: f.uint('timeoutMs', 1, MAX_BATCH_MS),
  };
}

// ---------------------------------------------------------------------------
// BatchResult

export function encodeBatchResult(r: BatchResult): Uint8Array {
  return encode('BatchResult', {
    workerId: r.workerId, campaignId: r.campaignId, batchId: r.batchId, execs: r.execs, timeouts: r.timeouts,
    newInputs: r.newInputs.map((i) => ({ ...inputToObject(i), newPoints: i.newPoints })),
    findings: r.findings.map(foundToObject),
    harnessErrors: r.harness.map((h) => ({ program: programToProtoObject(h.program), error: h.error.slice(0, MAX_TEXT) })),
    ms: r.ms, delivery: r.delivery,
  });
}

export function decodeBatchResult(buf: Uint8Array, source: string): BatchResult {
  const f = fieldsOf('BatchResult', buf, source);
  return {
    workerId: f.id('workerId'), campaignId: f.id('campaignId'), batchId: f.id('batchId'), execs: f.count('execs'), timeouts: f.uint('timeouts'),
    newInputs: f.list('newInputs').map((i) => ({ program: i.requiredProgram('program'), points: i.points('points'), newPoints: i.uint('newPoints') })),
    findings: f.list('findings').map(resultFindingFrom),
    harness: f.list('harnessErrors').map((h) => ({ program: h.requiredProgram('program'), error: h.text('error', true) })),
    ms: f.real('ms'), delivery: f.uint('delivery'),
  };
}

// ---------------------------------------------------------------------------
// Verify

export function encodeVerifyJob(j: VerifyJob): Uint8Array {
  return encode('VerifyJob', { ...j, program: programToProtoObject(j.program) });
}

export function decodeVerifyJob(buf: Uint8Array, source: string): VerifyJob {
  const f = fieldsOf('VerifyJob', buf, source);
  return {
    jobId: f.id('jobId'), campaignId: f.id('campaignId'), signature: f.text('signature', true), bugs: f.bugs('bugs'),
    program: f.requiredProgram('program'), finderWorkerId: f.id('finderWorkerId'),
  };
}

export function encodeVerifyResult(r: VerifyResult): Uint8Array {
  return encode('VerifyResult', { ...r });
}

export function decodeVerifyResult(buf: Uint8Array, source: string): VerifyResult {
  const f = fieldsOf('VerifyResult', buf, source);
  return {
    jobId: f.id('jobId'), workerId: f.id('workerId'), campaignId: f.id('campaignId'), signature: f.text('signature', true),
    reproduced: f.bool('reproduced'), observed: f.text('observed'),
  };
}

// ---------------------------------------------------------------------------
// Minimize

export function encodeMinimizeJob(j: MinimizeJob): Uint8Array {
  return encode('MinimizeJob', { ...j, program: programToProtoObject(j.program) });
}

export function decodeMinimizeJob(buf: Uint8Array, source: string): MinimizeJob {
  const f = fieldsOf('MinimizeJob', buf, source);
  return {
    jobId: f.id('jobId'), campaignId: f.id('campaignId'), signature: f.text('signature', true), bugs: f.bugs('bugs'),
    program: f.requiredProgram('program'), maxRuns: f.uint('maxRuns', 1), deadlineMs: f.uint('deadlineMs', 1, MAX_BATCH_MS),
  };
}

export function encodeMinimizeResult(r: MinimizeResult): Uint8Array {
  return encode('MinimizeResult', {
    jobId: r.jobId, workerId: r.workerId, campaignId: r.campaignId, signature: r.signature,
    ...(r.program ? { program: programToProtoObject(r.program) } : {}),
    opsBefore: r.opsBefore, opsAfter: r.opsAfter, runs: r.runs, ms: r.ms, error: r.error.slice(0, MAX_TEXT), slipped: r.slipped.map(foundToObject),
    switches: r.switches ?? [], switchesKnown: r.switches !== null,
  });
}

export function decodeMinimizeResult(buf: Uint8Array, source: string): MinimizeResult {
  const f = fieldsOf('MinimizeResult', buf, source);
  return {
    jobId: f.id('jobId'), workerId: f.id('workerId'), campaignId: f.id('campaignId'), signature: f.text('signature', true),
    program: f.program('program', false), opsBefore: f.uint('opsBefore'), opsAfter: f.uint('opsAfter'), runs: f.uint('runs'),
    ms: f.real('ms'), error: f.text('error'), slipped: f.list('slipped').map(foundFrom),
    switches: f.bool('switchesKnown') ? f.bugs('switches') : null,
  };
}

// ---------------------------------------------------------------------------
// Heartbeat

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  return encode('Heartbeat', { ...h });
}

export function decodeHeartbeat(buf: Uint8Array, source: string): Heartbeat {
  const f = fieldsOf('Heartbeat', buf, source);
  return {
    workerId: f.id('workerId'), host: f.text('host'), pid: f.uint('pid'), procs: f.uint('procs', 1, MAX_PROCS), busy: f.uint('busy'),
    campaigns: f.ids('campaigns'), execs: f.count('execs'), uptimeSec: f.real('uptimeSec'), running: f.ids('running'),
    kernelConfirm: f.bool('kernelConfirm'), confirming: f.ids('confirming'),
    kernelCampaign: f.bool('kernelCampaign'), kernelBatches: f.ids('kernelBatches'),
  };
}

// ---------------------------------------------------------------------------
// Coverage bitmaps

export function coverageBitmap(seen: Uint8Array): Uint8Array {
  const out = new Uint8Array(COV_MAP_SIZE / 8);
  for (let i = 0; i < seen.length; i++) if (seen[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

/** Every point set in a bitmap. */
export function bitmapPoints(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let byte = 0; byte < bitmap.length; byte++) {
    const b = bitmap[byte]!;
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) out.push(byte * 8 + bit);
  }
  return out;
}

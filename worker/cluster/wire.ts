// The cluster's NATS payloads <-> plain data (proto/foliofuzz.proto, section
// "Cluster: NATS payloads").
//
// Everything that arrives over NATS is untrusted: a decode either returns a
// value every field of which was checked (every number in its field's range,
// proto-strict.ts; ids URL-safe, bug names known to this build, programs
// validated by worker/prog/validate.ts, coverage points inside the map) or
// throws a WireError saying which subject and which field.
// Nothing downstream re-checks.

import protobuf from 'protobufjs';
import { type InvariantKind, parseSignature } from '../report/signature.js';
import type { RunViolation } from '../report/violation.js';
import type { BatchFinding, SharedInput } from '../fuzz/messages.js';
import { ProgramInputError } from '../prog/errors.js';
import { findProtoFile, programFromProtoObject, programToProtoObject } from '../prog/proto-codec.js';
import type { Program, ScheduleStrategy } from '../prog/types.js';
import { type BugName, findBug } from '../sim/bugs.js';
import { COV_MAP_SIZE } from '../sim/cov.js';
import { checkEncoded } from './proto-strict.js';

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

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
}

// ---------------------------------------------------------------------------
// Schema

type Json = Record<string, unknown>;

const TYPES = [
  'CorpusInput', 'WorkBatch', 'BatchResult', 'VerifyJob', 'VerifyResult', 'MinimizeJob', 'MinimizeResult', 'Heartbeat',
] as const;
type TypeName = (typeof TYPES)[number];

let root: protobuf.Root | undefined;

function typeOf(name: TypeName): protobuf.Type {
  root ??= new protobuf.Root().loadSync(findProtoFile(), { keepCase: false });
  return root.lookupType(`foliofuzz.v1.${name}`);
}

function encode(name: TypeName, obj: Json): Uint8Array {
  const type = typeOf(name);
  const bytes = type.encode(type.fromObject(obj)).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decode(name: TypeName, buf: Uint8Array, source: string): Json {
  const type = typeOf(name);
  try {
    // protobufjs would read an out-of-range number modulo its type's range: refuse it instead.
    checkEncoded(type, buf, { unknownFields: 'skip' });
    return type.toObject(type.decode(buf), { longs: Number, enums: String, defaults: true, oneofs: true, arrays: true });
  } catch (err) {
    throw new WireError(`${source}: malformed protobuf ${name} (${buf.length} bytes): ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------------------
// Checking decoded fields. A Fields reader knows the source and JSON path of
// the object it reads, so every error names where it is.

const ID = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_TEXT = 1 << 16;
const MAX_BATCH_MS = 10 * 60_000;
/** Executor threads one worker process may have (`worker --procs`): a heartbeat claiming more is refused. */
export const MAX_PROCS = 1024;

class Fields {
  constructor(private readonly obj: Json, readonly source: string, readonly path: string) {}

  fail(key: string, reason: string): never {
    throw new WireError(`${this.source}: ${this.path}.${key}: ${reason}`);
  }

  private raw(key: string): unknown {
    return this.obj[key];
  }

  id(key: string): string {
    const v = this.raw(key);
    if (typeof v !== 'string' || !ID.test(v)) this.fail(key, `expected an id of 1..128 characters [A-Za-z0-9._-], got ${JSON.stringify(v)?.slice(0, 80)}`);
    return v;
  }

  text(key: string, required = false): string {
    const v = this.raw(key);
    if (typeof v !== 'string') this.fail(key, 'expected a string');
    if (required && v === '') this.fail(key, 'missing');
    if (v.length > MAX_TEXT) this.fail(key, `longer than ${MAX_TEXT} characters`);
    return v;
  }

  /** A signature as signature.ts builds them; its kind must be the one `kindKey` states. */
  signature(key: string, kindKey: string): { signature: string; kind: InvariantKind } {
    const sig = this.text(key, true);
    const parts = parseSignature(sig);
    if (!parts) this.fail(key, `not a signature: ${JSON.stringify(sig.slice(0, 80))}`);
    if (this.text(kindKey) !== parts.kind) this.fail(kindKey, `does not match the signature's kind ${parts.kind}`);
    return { signature: sig, kind: parts.kind };
  }

  uint(key: string, min = 0, max = 2 ** 32 - 1): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) this.fail(key, `expected an integer in [${min}, ${max}], got ${String(v)}`);
    return v;
  }

  count(key: string): number {
    return this.uint(key, 0, Number.MAX_SAFE_INTEGER);
  }

  real(key: string): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) this.fail(key, `expected a non-negative number, got ${String(v)}`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v !== 'boolean') this.fail(key, 'expected a boolean');
    return v;
  }

  bytes(key: string): Uint8Array {
    const v = this.raw(key);
    if (!(v instanceof Uint8Array)) this.fail(key, 'expected bytes');
    return v;
  }

  strings<T extends string>(key: string, each: (s: string, path: string) => T): T[] {
    const v = this.raw(key);
    if (!Array.isArray(v)) this.fail(key, 'expected a list');
    return v.map((s, i) => (typeof s === 'string' ? each(s, `${this.path}.${key}[${i}]`) : this.fail(`${key}[${i}]`, 'expected a string')));
  }

  bugs(key: string): BugName[] {
    return this.strings(key, (s, path) => {
      const bug = findBug(s);
      if (!bug || !bug.implemented) throw new WireError(`${this.source}: ${path}: unknown bug switch ${JSON.stringify(s)}`);
      return bug.name;
    });
  }

  ids(key: string): string[] {
    return this.strings(key, (s, path) => {
      if (!ID.test(s)) throw new WireError(`${this.source}: ${path}: not an id`);
      return s;
    });
  }

  points(key: string): number[] {
    const v = this.raw(key);
    if (!Array.isArray(v)) this.fail(key, 'expected a list of coverage points');
    for (let i = 0; i < v.length; i++) {
      const p: unknown = v[i];
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= COV_MAP_SIZE) this.fail(`${key}[${i}]`, `coverage point ${String(p)} outside [0, ${COV_MAP_SIZE})`);
    }
    return v as number[];
  }

  sub(key: string, required = true): Fields | null {
    const v = this.raw(key);
    if (v === null || v === undefined) {
      if (required) this.fail(key, 'missing');
      return null;
    }
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'expected a message');
    return new Fields(v as Json, this.source, `${this.path}.${key}`);
  }

  list(key: string): Fields[] {
    const v = this.raw(key);
    if (!Array.isArray(v)) this.fail(key, 'expected a list');
    return v.map((x: unknown, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(`${key}[${i}]`, 'expected a message');
      return new Fields(x as Json, this.source, `${this.path}.${key}[${i}]`);
    });
  }

  program(key: string, required = true): Program | null {
    const f = this.sub(key, required);
    if (!f) return null;
    try {
      return programFromProtoObject(f.obj, `${this.source}: ${f.path}`);
    } catch (err) {
      if (err instanceof ProgramInputError) throw new WireError(err.message);
      throw err;
    }
  }

  requiredProgram(key: string): Program {
    return this.program(key, true)!;
  }

  schedule(key: string): ScheduleStrategy | undefined {
    const v = this.raw(key);
    switch (v) {
      case 'SCHEDULE_STRATEGY_UNSPECIFIED': return undefined;
      case 'SCHEDULE_STRATEGY_DEFAULT': return 'default';
      case 'SCHEDULE_STRATEGY_RANDOM': return 'random';
      case 'SCHEDULE_STRATEGY_PCT': return 'pct';
      default: return this.fail(key, `expected a fuzzing schedule strategy (default, random, pct), got ${String(v)}`);
    }
  }
}

function fieldsOf(name: TypeName, buf: Uint8Array, source: string): Fields {
  return new Fields(decode(name, buf, source), source, '$');
}

// ---------------------------------------------------------------------------
// Findings, inputs

function violationToObject(v: RunViolation): Json {
  return { signature: v.signature, invariant: v.invariant, kind: v.kind, message: v.message, traceTail: v.traceTail, step: v.step };
}

function foundToObject(f: BatchFinding & { repeats?: number }): Json {
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

function resultFindingFrom(f: Fields): ResultFinding {
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

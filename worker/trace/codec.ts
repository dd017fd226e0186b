// A Trace <-> JSON. Byte payloads travel as base64; everything else as in
// types.ts.
//
// Parsing is for untrusted input (a trace file, the native executor's
// output): every field is checked for type and range, every thread, op and
// file index must name something in the trace's program, a read's bytes must
// number what it returned, and nothing unknown is dropped silently. Errors
// name the JSON path of the bad field, as worker/prog/validate.ts does for
// programs.

import { ProgramInputError } from '../prog/errors.js';
import type { Program } from '../prog/types.js';
import { validateProgram } from '../prog/validate.js';
import { INVARIANT_KINDS, parseSignature } from '../report/signature.js';
import type { RunViolation, ThreadStack } from '../report/violation.js';
import {
  type ByteRanges,
  type FinalVia,
  TRACE_FORMAT,
  type Trace,
  type TraceEnd,
  type TraceEvent,
  type TraceEventName,
  type TraceSource,
} from './types.js';

export class TraceInputError extends Error {
  override name = 'TraceInputError';
}

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------
// base64

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Strict: canonical padding, the standard alphabet, no whitespace; null for anything else. */
export function base64ToBytes(text: string): Uint8Array | null {
  if (!B64_RE.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  // Non-zero bits in the padding make a second spelling of the same bytes: refuse it.
  if (buf.toString('base64') !== text) return null;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

// ---------------------------------------------------------------------------
// Encoding

/** An event as plain JSON data: bytes as base64, absent fields left out. */
export function eventToJson(event: TraceEvent): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(event)) {
    if (value === undefined) continue;
    out[key] = value instanceof Uint8Array ? bytesToBase64(value) : value;
  }
  return out;
}

export function traceToJson(trace: Trace): Json {
  return {
    format: trace.format,
    source: trace.source,
    program: trace.program,
    events: trace.events.map(eventToJson),
    end: trace.end,
  };
}

export function encodeTrace(trace: Trace): string {
  return JSON.stringify(traceToJson(trace));
}

// ---------------------------------------------------------------------------
// Checking one value

class Checker {
  constructor(readonly source: string) {}

  fail(path: string, reason: string): never {
    throw new TraceInputError(`${this.source}: ${path}: ${reason}`);
  }

  record(value: unknown, path: string): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, `expected an object, got ${show(value)}`);
    return value as Json;
  }

  /** An object with exactly the required keys and perhaps the optional ones. */
  object(value: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Json {
    const obj = this.record(value, path);
    for (const key of Object.keys(obj)) {
      if (!required.includes(key) && !optional.includes(key)) this.fail(`${path}.${key}`, 'unknown field');
    }
    for (const key of required) if (!Object.hasOwn(obj, key)) this.fail(`${path}.${key}`, 'missing field');
    return obj;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `expected an array, got ${show(value)}`);
    return value;
  }

  /** An integer in [min, max). */
  int(value: unknown, path: string, min: number, max: number, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value >= max) {
      this.fail(path, `must be ${what}, got ${show(value)}`);
    }
    return value === 0 ? 0 : value;
  }

  string(value: unknown, path: string, what = 'a string'): string {
    if (typeof value !== 'string') this.fail(path, `must be ${what}, got ${show(value)}`);
    return value;
  }

  bool(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') this.fail(path, `must be a boolean, got ${show(value)}`);
    return value;
  }

  bytes(value: unknown, path: string): Uint8Array {
    const bytes = typeof value === 'string' ? base64ToBytes(value) : null;
    if (!bytes) this.fail(path, `must be base64 bytes, got ${show(value)}`);
    return bytes;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
    const found = allowed.find((a) => a === value);
    if (found === undefined) this.fail(path, `must be one of ${allowed.join('|')}, got ${show(value)}`);
    return found;
  }

  strings(value: unknown, path: string): string[] {
    return this.array(value, path).map((s, i) => this.string(s, `${path}[${i}]`));
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

// ---------------------------------------------------------------------------
// Events: which fields each has and what each holds. Derived from types.ts,
// so an event field added there and not here is a compile error.

/** Offsets and lengths, as in programs. */
const MAX_BYTE_VALUE = 2 ** 40;
const MAX_LEVEL = 8;
const FINAL_VIAS: readonly FinalVia[] = ['cache', 'drop_caches', 'remount'];

type FieldKind =
  | 'thread' // index into program.threads
  | 'op' // index into the ops of the event's thread
  | 'file' // index into program.files
  | 'bytes' // an offset or a length
  | 'ret' // a result: bytes, 0, or -errno
  | 'data' // base64 bytes
  | 'sizes' // one size per file
  | 'ranges' // [start, end) pairs
  | 'bool'
  | 'via'
  | 'level'
  | 'text';

interface FieldSpec {
  kind: FieldKind;
  optional?: boolean;
}
type EventOf<K extends TraceEventName> = Extract<TraceEvent, { e: K }>;
type FieldsOf<T> = { [F in Exclude<keyof T, 'e'>]-?: undefined extends T[F] ? FieldSpec & { optional: true } : FieldSpec & { optional?: false } };

const opt = <K extends FieldKind>(kind: K): { kind: K; optional: true } => ({ kind, optional: true });

const EVENT_FIELDS: { [K in TraceEventName]: FieldsOf<EventOf<K>> } = {
  op: { t: { kind: 'thread' }, i: { kind: 'op' } },
  call: { t: { kind: 'thread' }, i: { kind: 'op' }, off: { kind: 'bytes' }, len: { kind: 'bytes' }, ret: { kind: 'ret' }, data: opt('data') },
  ret: {
    t: { kind: 'thread' }, i: { kind: 'op' }, ret: { kind: 'ret' }, data: opt('data'), stored: opt('bytes'),
    sizes: opt('sizes'), unsettled: opt('ranges'),
  },
  aio: { t: { kind: 'thread' }, i: { kind: 'op' }, ret: { kind: 'ret' }, data: opt('data') },
  ioerr: { file: { kind: 'file' }, pos: { kind: 'bytes' }, len: { kind: 'bytes' }, write: { kind: 'bool' }, writeback: { kind: 'bool' } },
  wberr: { file: { kind: 'file' } },
  stale: { file: { kind: 'file' }, pos: opt('bytes'), len: opt('bytes') },
  fallback: { file: { kind: 'file' }, pos: { kind: 'bytes' }, len: { kind: 'bytes' }, t: opt('thread') },
  posteof: { file: { kind: 'file' }, ranges: { kind: 'ranges' } },
  recovered: { file: { kind: 'file' }, data: { kind: 'data' } },
  final: { file: { kind: 'file' }, via: { kind: 'via' }, data: { kind: 'data' }, err: opt('ret') },
  klog: { level: { kind: 'level' }, text: { kind: 'text' } },
};

const EVENT_NAMES = Object.keys(EVENT_FIELDS) as TraceEventName[];

const EVENT_KEYS = Object.fromEntries(EVENT_NAMES.map((name) => {
  const specs = Object.entries(EVENT_FIELDS[name] as Record<string, FieldSpec>);
  return [name, {
    required: ['e', ...specs.filter(([, f]) => f.optional !== true).map(([k]) => k)],
    optional: specs.filter(([, f]) => f.optional === true).map(([k]) => k),
    specs,
  }];
})) as Record<TraceEventName, { required: string[]; optional: string[]; specs: [string, FieldSpec][] }>;

function checkRanges(c: Checker, value: unknown, path: string): ByteRanges {
  return c.array(value, path).map((r, i) => {
    const at = `${path}[${i}]`;
    const pair = c.array(r, at);
    if (pair.length !== 2) c.fail(at, `must be a [start, end) pair, got ${show(r)}`);
    const start = c.int(pair[0], `${at}[0]`, 0, MAX_BYTE_VALUE, 'a byte offset below 2^40');
    const end = c.int(pair[1], `${at}[1]`, start, MAX_BYTE_VALUE + 1, `an end offset from ${start} to 2^40`);
    return [start, end];
  });
}

function checkField(c: Checker, program: Program, kind: FieldKind, value: unknown, path: string, thread: number): unknown {
  switch (kind) {
    case 'thread':
      return c.int(value, path, 0, program.threads.length, `a thread index below ${program.threads.length}`);
    case 'op': {
      const n = program.threads[thread]?.ops.length ?? 0;
      return c.int(value, path, 0, n, `an op index of thread ${thread} (below ${n})`);
    }
    case 'file':
      return c.int(value, path, 0, program.files.length, `a file index below ${program.files.length}`);
    case 'bytes':
      return c.int(value, path, 0, MAX_BYTE_VALUE, 'a non-negative integer below 2^40');
    case 'ret':
      return c.int(value, path, -4095, MAX_BYTE_VALUE, 'a byte count, 0, or -errno');
    case 'data':
      return c.bytes(value, path);
    case 'sizes': {
      const sizes = c.array(value, path);
      if (sizes.length !== program.files.length) c.fail(path, `must hold one size per file (${program.files.length}), got ${sizes.length}`);
      return sizes.map((s, i) => c.int(s, `${path}[${i}]`, 0, MAX_BYTE_VALUE, 'a file size below 2^40'));
    }
    case 'ranges':
      return checkRanges(c, value, path);
    case 'bool':
      return c.bool(value, path);
    case 'via':
      return c.oneOf(value, path, FINAL_VIAS);
    case 'level':
      return c.int(value, path, 0, MAX_LEVEL, 'a log level 0..7');
    case 'text':
      return c.string(value, path);
  }
}

/** A read's bytes are what it returned: ret of them (none for a failure). */
function checkDataLength(c: Checker, event: Json, path: string): void {
  const data = event['data'];
  const ret = event['ret'];
  if (!(data instanceof Uint8Array) || typeof ret !== 'number') return;
  const want = Math.max(0, ret);
  if (data.length !== want) c.fail(`${path}.data`, `holds ${data.length} bytes, but ret says ${want}`);
}

function parseEvent(c: Checker, program: Program, value: unknown, path: string): TraceEvent {
  const raw = c.record(value, path);
  const name = c.oneOf(raw['e'], `${path}.e`, EVENT_NAMES);
  const keys = EVENT_KEYS[name];
  c.object(raw, path, keys.required, keys.optional);
  const out: Json = { e: name };
  const thread = typeof raw['t'] === 'number' ? raw['t'] : -1;
  for (const [key, spec] of keys.specs) {
    if (raw[key] === undefined) continue;
    out[key] = checkField(c, program, spec.kind, raw[key], `${path}.${key}`, thread);
  }
  checkDataLength(c, out, path);
  if (name === 'aio') checkAioOp(c, program, out, path);
  return out as unknown as TraceEvent;
}

/** An `aio` event names the op that submitted it: an aio_write (no bytes back) or an aio_read. */
function checkAioOp(c: Checker, program: Program, event: Json, path: string): void {
  const op = program.threads[event['t'] as number]?.ops[event['i'] as number];
  if (op?.op !== 'aio_write' && op?.op !== 'aio_read') c.fail(`${path}.i`, `names a ${op?.op ?? 'missing'} op, not an aio_write or aio_read`);
  if (op.op === 'aio_write' && event['data'] !== undefined) c.fail(`${path}.data`, 'an aio_write completion returns no bytes');
}

/** One event from JSON data, checked against the program it belongs to. */
export function eventFromJson(value: unknown, program: Program, source: string, path: string): TraceEvent {
  return parseEvent(new Checker(source), program, value, path);
}

// ---------------------------------------------------------------------------
// The envelope

const NAME_RE = /^[A-Za-z0-9_.:+-]{1,64}$/;

function parseSource(c: Checker, value: unknown, path: string): TraceSource {
  const kind = c.oneOf(c.record(value, path)['kind'], `${path}.kind`, ['sim', 'kernel'] as const);
  if (kind === 'sim') {
    const obj = c.object(value, path, ['kind', 'simVersion', 'bugs']);
    const bugs = c.strings(obj['bugs'], `${path}.bugs`);
    bugs.forEach((b, i) => NAME_RE.test(b) || c.fail(`${path}.bugs[${i}]`, `must be a bug switch name, got ${show(b)}`));
    return { kind, simVersion: c.string(obj['simVersion'], `${path}.simVersion`), bugs };
  }
  const obj = c.object(value, path, ['kind', 'release', 'fsType', 'blockSize', 'run']);
  const fsType = c.string(obj['fsType'], `${path}.fsType`);
  if (!NAME_RE.test(fsType)) c.fail(`${path}.fsType`, `must be a filesystem type name, got ${show(fsType)}`);
  return {
    kind,
    release: c.string(obj['release'], `${path}.release`),
    fsType,
    blockSize: c.int(obj['blockSize'], `${path}.blockSize`, 1, 2 ** 31, 'a positive block size'),
    run: c.int(obj['run'], `${path}.run`, 0, 2 ** 31, 'a run index'),
  };
}

function parseStack(c: Checker, value: unknown, path: string): ThreadStack {
  const obj = c.object(value, path, ['thread', 'frames']);
  return { thread: c.string(obj['thread'], `${path}.thread`), frames: c.strings(obj['frames'], `${path}.frames`) };
}

function parseViolation(c: Checker, value: unknown, path: string): RunViolation {
  const obj = c.object(value, path, ['signature', 'invariant', 'kind', 'message', 'stacks', 'traceTail', 'step']);
  const signature = c.string(obj['signature'], `${path}.signature`);
  const parts = parseSignature(signature);
  if (!parts) c.fail(`${path}.signature`, `is not a signature: ${show(signature)}`);
  const kind = c.oneOf(obj['kind'], `${path}.kind`, INVARIANT_KINDS);
  if (kind !== parts.kind) c.fail(`${path}.kind`, `is ${kind}, but the signature says ${parts.kind}`);
  return {
    signature,
    invariant: c.string(obj['invariant'], `${path}.invariant`),
    kind,
    message: c.string(obj['message'], `${path}.message`),
    stacks: c.array(obj['stacks'], `${path}.stacks`).map((s, i) => parseStack(c, s, `${path}.stacks[${i}]`)),
    traceTail: c.strings(obj['traceTail'], `${path}.traceTail`),
    step: c.int(obj['step'], `${path}.step`, 0, Number.MAX_SAFE_INTEGER, 'a step count'),
  };
}

function parseEnd(c: Checker, value: unknown, path: string): TraceEnd {
  const outcome = c.oneOf(c.record(value, path)['outcome'], `${path}.outcome`, ['done', 'violation', 'timeout', 'error'] as const);
  switch (outcome) {
    case 'done':
    case 'timeout':
      c.object(value, path, ['outcome']);
      return { outcome };
    case 'violation':
      return { outcome, violation: parseViolation(c, c.object(value, path, ['outcome', 'violation'])['violation'], `${path}.violation`) };
    case 'error':
      return { outcome, error: c.string(c.object(value, path, ['outcome', 'error'])['error'], `${path}.error`) };
  }
}

function parseProgram(c: Checker, value: unknown, path: string): Program {
  try {
    return validateProgram(value, `${c.source}: ${path}`);
  } catch (err) {
    if (err instanceof ProgramInputError) throw new TraceInputError(err.message);
    throw err;
  }
}

/** A Trace from JSON data; throws TraceInputError naming the path of the first bad field. */
export function traceFromJson(value: unknown, source: string): Trace {
  const c = new Checker(source);
  const root = c.object(value, '$', ['format', 'source', 'program', 'events', 'end']);
  if (root['format'] !== TRACE_FORMAT) c.fail('$.format', `must be ${TRACE_FORMAT}, got ${show(root['format'])}`);
  const program = parseProgram(c, root['program'], '$.program');
  return {
    format: TRACE_FORMAT,
    source: parseSource(c, root['source'], '$.source'),
    program,
    events: c.array(root['events'], '$.events').map((e, i) => parseEvent(c, program, e, `$.events[${i}]`)),
    end: parseEnd(c, root['end'], '$.end'),
  };
}

/** A Trace from JSON text; `source` names the input in error messages. */
export function decodeTrace(text: string, source: string): Trace {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TraceInputError(`${source}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return traceFromJson(value, source);
}

// Reading the cluster's NATS payloads (wire.ts, wire-confirm.ts): the
// protobuf schema, and the field reader every decode goes through. A Fields
// reader knows the subject and the JSON path of the object it reads, so every
// error names where it is; a decode that passes it has every field checked.

import protobuf from 'protobufjs';
import { type InvariantKind, parseSignature } from '../report/signature.js';
import { ProgramInputError } from '../prog/errors.js';
import { findProtoFile, programFromProtoObject } from '../prog/proto-codec.js';
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

// ---------------------------------------------------------------------------
// Schema

export type Json = Record<string, unknown>;

const TYPES = [
  'CorpusInput', 'WorkBatch', 'BatchResult', 'VerifyJob', 'VerifyResult', 'MinimizeJob', 'MinimizeResult', 'Heartbeat', 'ConfirmJob', 'ConfirmResult',
] as const;
export type TypeName = (typeof TYPES)[number];

let root: protobuf.Root | undefined;

function typeOf(name: TypeName): protobuf.Type {
  root ??= new protobuf.Root().loadSync(findProtoFile(), { keepCase: false });
  return root.lookupType(`foliofuzz.v1.${name}`);
}

export function encode(name: TypeName, obj: Json): Uint8Array {
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

export const ID = /^[A-Za-z0-9._-]{1,128}$/;
export const MAX_TEXT = 1 << 16;
export const MAX_BATCH_MS = 10 * 60_000;
/** Executor threads one worker process may have (`worker --procs`): a heartbeat claiming more is refused. */
export const MAX_PROCS = 1024;

export class Fields {
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

  /** A proto3 `optional string`: null when unset. */
  optionalText(key: string): string | null {
    return this.raw(key) === undefined ? null : this.text(key);
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

export function fieldsOf(name: TypeName, buf: Uint8Array, source: string): Fields {
  return new Fields(decode(name, buf, source), source, '$');
}

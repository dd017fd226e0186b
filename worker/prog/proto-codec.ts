// Program <-> protobuf (foliofuzz.v1.Program in proto/foliofuzz.proto).
//
// The schema is loaded at run time with protobufjs, so the .proto file stays the
// one source of truth shared with the gRPC services. Op fields have the same
// names in both forms (protobufjs camelCases the proto's snake_case), so the
// conversion is generic: only the oneof member name and the enums are mapped,
// an op's enum fields found by their kind in the op schema (ops.ts).
// Decoding always ends with validateProgram: proto3 cannot say "missing", and a
// message from the network is as untrusted as a JSON file.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ProgramInputError } from './errors.js';
import { OP_NAMES, fieldKind, isEnumKind, type EnumKind } from './ops.js';
import type { Op, OpName, Program } from './types.js';
import { validateProgram } from './validate.js';

const PROTO_RELATIVE = join('proto', 'foliofuzz.proto');
const PROGRAM_TYPE = 'foliofuzz.v1.Program';

type Json = Record<string, unknown>;

/**
 * The package root is the nearest ancestor holding proto/foliofuzz.proto: this
 * module runs as worker/prog/proto-codec.ts (tsx) or as
 * dist/worker/prog/proto-codec.js (compiled), at different depths.
 */
export function findProtoFile(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, PROTO_RELATIVE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find ${PROTO_RELATIVE} above ${start}`);
  }
}

let programType: protobuf.Type | undefined;

function getProgramType(): protobuf.Type {
  programType ??= new protobuf.Root().loadSync(findProtoFile(), { keepCase: false }).lookupType(PROGRAM_TYPE);
  return programType;
}

// ---------------------------------------------------------------------------
// Names: op names are snake_case, oneof members camelCase; enum values carry a prefix.

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

const ONEOF_TO_OP = new Map<string, OpName>(OP_NAMES.map((op) => [camel(op), op]));

/** Which enum each enum-valued config or schedule field uses, by its prefix in the .proto. */
const ENUM_PREFIX: Record<string, string> = {
  fs: 'FS_KIND_',
  inode: 'INODE_KIND_',
  strategy: 'SCHEDULE_STRATEGY_',
};

/** The same for op fields, by their kind. */
const OP_ENUM_PREFIX: Record<EnumKind, string> = {
  fallocMode: 'FALLOC_MODE_',
  prot: 'MMAP_PROT_',
};

function opEnumPrefix(op: OpName, field: string): string | undefined {
  const kind = fieldKind(op, field);
  return kind !== undefined && isEnumKind(kind) ? OP_ENUM_PREFIX[kind] : undefined;
}

function enumToProto(prefix: string | undefined, value: unknown): unknown {
  return prefix !== undefined && typeof value === 'string' ? prefix + value.toUpperCase() : value;
}

/** The Program value of a decoded enum; anything else is left for validation to reject by name. */
function enumFromProto(prefix: string | undefined, value: unknown): unknown {
  if (prefix === undefined || typeof value !== 'string' || !value.startsWith(prefix)) return value;
  const name = value.slice(prefix.length);
  return name === 'UNSPECIFIED' ? value : name.toLowerCase();
}

/** A config or schedule field, its enum found by name. */
const plainFieldToProto = (field: string, value: unknown): unknown => enumToProto(ENUM_PREFIX[field], value);
const plainFieldFromProto = (field: string, value: unknown): unknown => enumFromProto(ENUM_PREFIX[field], value);

function mapFields(obj: Json, convert: (field: string, value: unknown) => unknown): Json {
  const out: Json = {};
  for (const [field, value] of Object.entries(obj)) out[field] = convert(field, value);
  return out;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

// ---------------------------------------------------------------------------
// Encoding

function opToProto(op: Op): Json {
  const { op: name, ...fields } = op;
  return { [camel(name)]: mapFields(fields, (field, value) => enumToProto(opEnumPrefix(name, field), value)) };
}

/**
 * A program as the plain object protobufjs' fromObject takes for a
 * foliofuzz.v1.Program (also nested inside other messages); validated first,
 * because protobufjs silently wraps out-of-range numbers.
 */
export function programToProtoObject(p: Program): Json {
  const program = validateProgram(p, 'programToProto');
  return {
    version: program.version,
    config: mapFields({ ...program.config }, plainFieldToProto),
    files: program.files,
    fds: program.fds,
    threads: program.threads.map((t) => ({ ops: t.ops.map(opToProto) })),
    ...(program.schedule ? { schedule: mapFields({ ...program.schedule }, plainFieldToProto) } : {}),
  };
}

/** Encode a program; it is validated first, because protobufjs silently wraps out-of-range numbers. */
export function programToProto(p: Program): Uint8Array {
  const type = getProgramType();
  const message = type.fromObject(programToProtoObject(p));
  const bytes = type.encode(message).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------
// Decoding

function opFromProto(source: string, obj: Json, path: string): Json {
  const kind = obj['kind'];
  const name = typeof kind === 'string' ? ONEOF_TO_OP.get(kind) : undefined;
  const body = typeof kind === 'string' ? obj[kind] : undefined;
  if (name === undefined || !isRecord(body)) throw new ProgramInputError(`${source}: ${path}: op kind not set`);
  return { op: name, ...mapFields(body, (field, value) => enumFromProto(opEnumPrefix(name, field), value)) };
}

function decodeMessage(buf: Uint8Array, source: string): Json {
  const type = getProgramType();
  try {
    return type.toObject(type.decode(buf), { longs: Number, enums: String, defaults: true, oneofs: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProgramInputError(`${source}: malformed protobuf Program: ${reason}`);
  }
}

/** Decode and validate a program; `source` names the input in error messages. */
export function programFromProto(buf: Uint8Array, source: string): Program {
  return programFromProtoObject(decodeMessage(buf, source), source);
}

/**
 * Validate a Program that protobufjs decoded (toObject with enums: String,
 * longs: Number, defaults and oneofs on), on its own or nested in another message.
 */
export function programFromProtoObject(obj: Json, source: string): Program {
  const config = isRecord(obj['config']) ? mapFields(obj['config'], plainFieldFromProto) : obj['config'];
  const threads = records(obj['threads']).map((thread, t) => ({
    ops: records(thread['ops']).map((op, i) => opFromProto(source, op, `$.threads[${t}].ops[${i}]`)),
  }));
  const schedule = isRecord(obj['schedule']) ? mapFields(obj['schedule'], plainFieldFromProto) : undefined;
  return validateProgram({
    version: obj['version'],
    config,
    files: obj['files'],
    fds: obj['fds'],
    threads,
    ...(schedule ? { schedule } : {}),
  }, source);
}

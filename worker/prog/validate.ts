// Checking that an untrusted value is a well-formed Program.
//
// Every way a program enters foliofuzz (JSON files, protobuf messages, the script
// importers) ends here, so the simulator can trust what it runs: every field has
// the right type and range, every index points at something that exists, and
// nothing unknown is silently dropped. Errors name the JSON path of the bad field.

import { ProgramInputError } from './errors.js';
import { MAX_FILE_BYTES } from './limits.js';
import { OP_NAMES, READ_ONLY_OPS, opFields, type FieldKind, type OpField } from './ops.js';
import {
  FALLOC_MODES,
  MMAP_PROTS,
  PROGRAM_VERSION,
  SYNC_FILE_RANGE_WAIT_AFTER,
  SYNC_FILE_RANGE_WAIT_BEFORE,
  SYNC_FILE_RANGE_WRITE,
  type Decision,
  type FdDecl,
  type FileDecl,
  type FsKind,
  type InodeKind,
  type Op,
  type OpName,
  type Program,
  type Schedule,
  type SimConfig,
  SCHEDULE_STRATEGIES,
  type Thread,
} from './types.js';

/** Offsets, lengths and sizes are below 2^40 (1 TiB): far above any simulated file, far below 2^53. */
export const MAX_BYTE_VALUE = 2 ** 40;
/** Map ids travel as uint32 in protobuf. */
const MAX_MAP_ID = 2 ** 32;

export const FS_KINDS: readonly FsKind[] = ['ext4', 'xfs', 'fuse'];
export const INODE_KINDS: readonly InodeKind[] = ['extent', 'indirect'];
export const BLOCK_SIZES: readonly number[] = [1024, 2048, 4096];
const MIN_FOLIO = 4096;
const MAX_FOLIO = 65536;
const SYNC_FLAGS_MASK = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
const MAX_NAME_BYTES = 255;

// ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** What the op checks need to know about the rest of the program. */
interface Context {
  source: string;
  fileCount: number;
  fdCount: number;
  /** Map ids created by mmap ops, anywhere: threads share one address space. */
  mapsDefined: Set<number>;
  /** References to check once every mmap op has been seen. */
  mapRefs: { path: string; map: number }[];
  iocbsDefined: Set<number>;
  iocbRefs: { path: string; iocb: number }[];
}

function fail(source: string, path: string, reason: string): never {
  throw new ProgramInputError(`${source}: ${path}: ${reason}`);
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object with exactly the given required keys, plus optional ones; anything else is an error. */
function expectObject(source: string, value: unknown, path: string, required: readonly string[],
  optional: readonly string[] = []): Json {
  if (!isRecord(value)) fail(source, path, `expected an object, got ${show(value)}`);
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) fail(source, `${path}.${key}`, 'unknown field');
  }
  for (const key of required) {
    if (!Object.hasOwn(value, key)) fail(source, `${path}.${key}`, 'missing field');
  }
  return value;
}

function expectArray(source: string, value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(source, path, `expected an array, got ${show(value)}`);
  return value;
}

/** An integer in [min, max); -0 becomes 0 so that output is canonical. */
function expectInt(source: string, value: unknown, path: string, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value >= max) {
    fail(source, path, `must be ${what}, got ${show(value)}`);
  }
  return value === 0 ? 0 : value;
}

function expectOneOf<T extends string>(source: string, value: unknown, path: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) fail(source, path, `must be one of ${allowed.join('|')}, got ${show(value)}`);
  return found;
}

// ---------------------------------------------------------------------------

function validateConfig(source: string, value: unknown, path: string): SimConfig {
  const obj = expectObject(source, value, path, ['fs', 'inode', 'blockSize', 'folioMax']);
  const fs = expectOneOf(source, obj['fs'], `${path}.fs`, FS_KINDS);
  const inode = expectOneOf(source, obj['inode'], `${path}.inode`, INODE_KINDS);
  // Indirect-block inodes are an ext4 (ext2/3 heritage) format; xfs and fuse have no such thing.
  if (inode === 'indirect' && fs !== 'ext4') fail(source, `${path}.inode`, `indirect inodes need fs ext4, not ${fs}`);
  const blockSize = obj['blockSize'];
  if (typeof blockSize !== 'number' || !BLOCK_SIZES.includes(blockSize)) {
    fail(source, `${path}.blockSize`, `must be one of ${BLOCK_SIZES.join('|')}, got ${show(blockSize)}`);
  }
  const folioMax = expectInt(source, obj['folioMax'], `${path}.folioMax`, MIN_FOLIO, MAX_FOLIO + 1,
    `a power of two from ${MIN_FOLIO} to ${MAX_FOLIO}`);
  if ((folioMax & (folioMax - 1)) !== 0) {
    fail(source, `${path}.folioMax`, `must be a power of two from ${MIN_FOLIO} to ${MAX_FOLIO}, got ${folioMax}`);
  }
  // A folio never holds part of a block: the smallest folio is a page, so this
  // only bites if block sizes above the page size are ever allowed.
  if (folioMax < blockSize) fail(source, `${path}.folioMax`, `must be at least blockSize (${blockSize})`);
  return { fs, inode, blockSize, folioMax };
}

function validateFiles(source: string, value: unknown, path: string): FileDecl[] {
  const seen = new Set<string>();
  return expectArray(source, value, path).map((item, i) => {
    const at = `${path}[${i}]`;
    const obj = expectObject(source, item, at, ['name']);
    const name = obj['name'];
    // Names become paths in reproducers (xfs_io scripts, C programs): keep them plain.
    if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\0]/.test(name)
      || Buffer.byteLength(name) > MAX_NAME_BYTES) {
      fail(source, `${at}.name`, `must be a file name (1..${MAX_NAME_BYTES} bytes, no '/' or NUL), got ${show(name)}`);
    }
    if (seen.has(name)) fail(source, `${at}.name`, `duplicate file name ${show(name)}`);
    seen.add(name);
    return { name };
  });
}

function validateFds(source: string, value: unknown, path: string, fileCount: number): FdDecl[] {
  return expectArray(source, value, path).map((item, i) => {
    const at = `${path}[${i}]`;
    const obj = expectObject(source, item, at, ['file', 'direct']);
    const file = expectInt(source, obj['file'], `${at}.file`, 0, fileCount, indexRange('file', fileCount));
    const direct = obj['direct'];
    if (typeof direct !== 'boolean') fail(source, `${at}.direct`, `must be a boolean, got ${show(direct)}`);
    return { file, direct };
  });
}

function indexRange(what: 'fd' | 'file', count: number): string {
  const an = what === 'fd' ? 'an' : 'a';
  return count === 0 ? `${an} ${what} index, but the program declares no ${what}s` : `${an} ${what} index in 0..${count - 1}`;
}

function validateField(ctx: Context, kind: FieldKind, value: unknown, path: string): number | boolean | string {
  const { source } = ctx;
  switch (kind) {
    case 'fd':
      return expectInt(source, value, path, 0, ctx.fdCount, indexRange('fd', ctx.fdCount));
    case 'file':
      return expectInt(source, value, path, 0, ctx.fileCount, indexRange('file', ctx.fileCount));
    case 'mapDef': {
      const map = expectInt(source, value, path, 0, MAX_MAP_ID, 'a map id (a non-negative integer below 2^32)');
      ctx.mapsDefined.add(map);
      return map;
    }
    case 'mapRef': {
      const map = expectInt(source, value, path, 0, MAX_MAP_ID, 'a map id (a non-negative integer below 2^32)');
      ctx.mapRefs.push({ path, map });
      return map;
    }
    case 'offset':
    case 'length':
    case 'size':
      return expectInt(source, value, path, 0, MAX_BYTE_VALUE, 'a non-negative integer below 2^40');
    case 'bsize':
      return expectInt(source, value, path, 1, MAX_BYTE_VALUE, 'a positive integer below 2^40');
    case 'fill':
      return expectInt(source, value, path, 0, 256, 'a byte value 0..255');
    case 'bool':
      if (typeof value !== 'boolean') fail(source, path, `must be a boolean, got ${show(value)}`);
      return value;
    case 'fallocMode':
      return expectOneOf(source, value, path, FALLOC_MODES);
    case 'prot':
      return expectOneOf(source, value, path, MMAP_PROTS);
    case 'syncFlags':
      return expectInt(source, value, path, 0, SYNC_FLAGS_MASK + 1, 'sync_file_range flags (0..7)');
    case 'count':
      return expectInt(source, value, path, 0, 1 << 16, 'a count (0..65535)');
    case 'seed':
      return expectInt(source, value, path, 0, 2 ** 32, 'a seed (an integer 0..4294967295)');
    case 'iocbDef': {
      const iocb = expectInt(source, value, path, 0, MAX_MAP_ID, 'an iocb id (a non-negative integer below 2^32)');
      ctx.iocbsDefined.add(iocb);
      return iocb;
    }
    case 'iocbRef': {
      const iocb = expectInt(source, value, path, 0, MAX_MAP_ID, 'an iocb id (a non-negative integer below 2^32)');
      ctx.iocbRefs.push({ path, iocb });
      return iocb;
    }
  }
}

interface OpKeys {
  required: string[];
  optional: string[];
  fields: readonly OpField[];
}

/** Per op kind, its fields split once: the per-op check runs for every op of every program. */
const OP_KEYS = Object.fromEntries(OP_NAMES.map((name): [OpName, OpKeys] => {
  const fields = opFields(name);
  return [name, {
    required: ['op', ...fields.filter((f) => !f.optional).map((f) => f.name)],
    optional: fields.filter((f) => f.optional).map((f) => f.name),
    fields,
  }];
})) as Record<OpName, OpKeys>;

/**
 * The value of a field that is plainly valid, or undefined when it needs the
 * full check (which names the path on failure, or records a map/iocb id).
 * Building a JSON path per field dominated importing long scripts.
 */
function acceptPlainField(ctx: Context, kind: FieldKind, value: unknown): number | boolean | undefined {
  if (typeof value === 'boolean') return kind === 'bool' ? value : undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return undefined;
  let min = 0;
  let max: number;
  switch (kind) {
    case 'fd': max = ctx.fdCount; break;
    case 'file': max = ctx.fileCount; break;
    case 'offset':
    case 'length':
    case 'size': max = MAX_BYTE_VALUE; break;
    case 'bsize': min = 1; max = MAX_BYTE_VALUE; break;
    case 'fill': max = 256; break;
    case 'syncFlags': max = SYNC_FLAGS_MASK + 1; break;
    default: return undefined;
  }
  return value >= min && value < max ? (value === 0 ? 0 : value) : undefined;
}

function validateOp(ctx: Context, value: unknown, at: string, index: number): Op {
  const path = (): string => `${at}.ops[${index}]`;
  if (!isRecord(value)) fail(ctx.source, path(), `expected an op object, got ${show(value)}`);
  const name = value['op'];
  if (typeof name !== 'string' || !Object.hasOwn(OP_KEYS, name)) {
    fail(ctx.source, `${path()}.op`, `unknown op ${show(name)} (known: ${OP_NAMES.join(', ')})`);
  }
  const keys = OP_KEYS[name as OpName];
  if (!hasExactKeys(value, keys.required, keys.optional)) expectObject(ctx.source, value, path(), keys.required, keys.optional);
  const out: Json = { op: name };
  for (const field of keys.fields) {
    const v = value[field.name];
    if (field.optional && v === undefined) continue;
    const plain = acceptPlainField(ctx, field.kind, v);
    out[field.name] = plain !== undefined ? plain : validateField(ctx, field.kind, v, `${path()}.${field.name}`);
  }
  // Every field of this op kind was checked against the schema (ops.ts), which is derived from types.ts.
  const op = out as unknown as Op;
  checkFileReach(ctx, op, path);
  return op;
}

/**
 * An op that changes a file may not reach past MAX_FILE_BYTES (limits.ts):
 * each offset plus the op's length, and each size. Reads may look anywhere.
 * The refusal in words (after the op's name), and the field it names; null when the op stays inside.
 */
export function fileReachError(op: Op): { field: string; message: string } | null {
  if (READ_ONLY_OPS.has(op.op)) return null;
  const values = op as unknown as Record<string, unknown>;
  const len = typeof values['len'] === 'number' ? values['len'] : 0;
  for (const field of opFields(op.op)) {
    const v = values[field.name];
    if (typeof v !== 'number' || (field.kind !== 'offset' && field.kind !== 'size')) continue;
    const end = field.kind === 'offset' ? v + len : v;
    if (end <= MAX_FILE_BYTES) continue;
    return {
      field: field.name,
      message: `reaches byte ${end}, past the largest file a program may make ` +
        `(${MAX_FILE_BYTES / 2 ** 20} MiB, the simulator's s_maxbytes: it keeps files in memory; a real kernel would take it)`,
    };
  }
  return null;
}

function checkFileReach(ctx: Context, op: Op, path: () => string): void {
  const e = fileReachError(op);
  if (e) fail(ctx.source, `${path()}.${e.field}`, `${op.op} ${e.message}`);
}

/** Does obj have every required key and nothing but required and optional ones? */
function hasExactKeys(obj: Json, required: readonly string[], optional: readonly string[]): boolean {
  let n = 0;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    if (!required.includes(key) && !optional.includes(key)) return false;
    n++;
  }
  for (const key of required) if (!Object.hasOwn(obj, key)) return false;
  return n >= required.length;
}

function validateThreads(ctx: Context, value: unknown, path: string): Thread[] {
  const threads = expectArray(ctx.source, value, path);
  if (threads.length === 0) fail(ctx.source, path, 'a program needs at least one thread');
  return threads.map((item, t) => {
    const at = `${path}[${t}]`;
    const obj = expectObject(ctx.source, item, at, ['ops']);
    const ops = expectArray(ctx.source, obj['ops'], `${at}.ops`).map((op, i) => validateOp(ctx, op, at, i));
    return { ops };
  });
}

/**
 * Check that `value` is a well-formed Program and return a clean copy of it
 * (only known fields, -0 normalised). Throws ProgramInputError naming the JSON
 * path of the first bad field.
 */
export function validateProgram(value: unknown, source: string): Program {
  const root = expectObject(source, value, '$', ['version', 'config', 'files', 'fds', 'threads'], ['schedule']);
  if (root['version'] !== PROGRAM_VERSION) {
    fail(source, '$.version', `unsupported program version ${show(root['version'])} (this build reads ${PROGRAM_VERSION})`);
  }
  const config = validateConfig(source, root['config'], '$.config');
  const files = validateFiles(source, root['files'], '$.files');
  const fds = validateFds(source, root['fds'], '$.fds', files.length);
  const ctx: Context = {
    source, fileCount: files.length, fdCount: fds.length, mapsDefined: new Set(), mapRefs: [], iocbsDefined: new Set(), iocbRefs: [],
  };
  const threads = validateThreads(ctx, root['threads'], '$.threads');
  for (const ref of ctx.mapRefs) {
    if (!ctx.mapsDefined.has(ref.map)) fail(source, ref.path, `map ${ref.map} is not created by any mmap op`);
  }
  for (const ref of ctx.iocbRefs) {
    if (!ctx.iocbsDefined.has(ref.iocb)) fail(source, ref.path, `iocb ${ref.iocb} is not submitted by any aio op`);
  }
  const prog: Program = { version: PROGRAM_VERSION, config, files, fds, threads };
  if (root['schedule'] !== undefined) prog.schedule = validateSchedule(source, root['schedule'], '$.schedule');
  return prog;
}

const MAX_U32 = 2 ** 32;

function validateSchedule(source: string, value: unknown, path: string): Schedule {
  const obj = expectObject(source, value, path, ['strategy', 'seed', 'depth', 'decisions']);
  const strategy = expectOneOf(source, obj['strategy'], `${path}.strategy`, SCHEDULE_STRATEGIES);
  const seed = expectInt(source, obj['seed'], `${path}.seed`, 0, MAX_U32, 'a seed (0..2^32-1)');
  const depth = expectInt(source, obj['depth'], `${path}.depth`, 0, 1 << 16, 'a PCT depth (0..65535)');
  const decisions = expectArray(source, obj['decisions'], `${path}.decisions`).map((d, i) => validateDecision(source, d, `${path}.decisions[${i}]`));
  return { strategy, seed, depth, decisions };
}

/** A thread's name, a completion's label: letters, digits and `_ . / : # -`, at most 80 of them. */
const LABEL = /^[A-Za-z0-9_./:#-]{0,80}$/;
const MAX_POSITION = 2 ** 31;

function expectLabel(source: string, value: unknown, path: string, what: string, emptyOk: boolean): string {
  if (typeof value !== 'string' || !LABEL.test(value) || (!emptyOk && value === '')) {
    fail(source, path, `must be ${what}, got ${show(value)}`);
  }
  return value;
}

function validateDecision(source: string, value: unknown, path: string): Decision {
  if (isRecord(value) && Object.hasOwn(value, 'pick') && Object.hasOwn(value, 'hash')) {
    fail(source, path, 'a positional {pick, hash} decision of foliofuzz-sim/4 or earlier: decisions now name their anchor ' +
      '{at, op, step, nth} and choice {run}; re-record the schedule (a random or pct seed records one)');
  }
  const obj = expectObject(source, value, path, ['at', 'op', 'step', 'nth', 'run']);
  return {
    at: expectLabel(source, obj['at'], `${path}.at`, "a thread's name (t<i>, a kernel thread, or '' before any ran)", true),
    op: expectInt(source, obj['op'], `${path}.op`, 0, MAX_POSITION, 'an op index (a kernel thread: its pass)'),
    step: expectInt(source, obj['step'], `${path}.step`, 0, MAX_POSITION, 'a count of preemption points'),
    nth: expectInt(source, obj['nth'], `${path}.nth`, 0, MAX_POSITION, 'a count of scheduler turns'),
    run: expectLabel(source, obj['run'], `${path}.run`, 'a thread (t<i> or a kernel thread) or a completion (ev:<name>#<k>)', false),
  };
}

/** Parse a program from JSON text; `source` names the input in error messages. */
export function parseProgramJson(text: string, source: string): Program {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProgramInputError(`${source}: invalid JSON: ${reason}`);
  }
  return validateProgram(value, source);
}

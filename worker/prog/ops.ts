// The op schema: for every op of the program language (types.ts), the fields
// it has and the role each one plays, and the facts about the op itself that
// more than one layer needs. Validation checks a field by its role, the
// mutators draw a new value by role, the minimizer shrinks and renumbers by
// role, the protobuf mapping converts enums by role: none of them keeps its
// own list of field names.
//
// The table's type is derived from types.ts, so an op or a field added there
// without an entry here (or with the wrong optionality) is a compile error,
// and so is an op whose facts are not decided.

import type { Op, OpName } from './types.js';

/** What a field holds. */
export type FieldKind =
  | 'fd' // index into program.fds
  | 'file' // index into program.files
  | 'mapDef' // the map id an mmap op creates
  | 'mapRef' // a map id some mmap op creates
  | 'offset' // a file offset
  | 'length' // a byte count from an offset
  | 'size' // a file size
  | 'bsize' // syscall chunk size: at least 1
  | 'fill' // a byte value
  | 'bool'
  | 'fallocMode'
  | 'prot'
  | 'syncFlags'
  | 'count' // a small non-negative count
  | 'seed' // a uint32 seed
  | 'iocbDef' // the iocb id an aio_write/aio_read creates
  | 'iocbRef'; // an iocb id some aio op creates

interface RequiredField {
  kind: FieldKind;
  optional?: false;
}
interface OptionalField {
  kind: FieldKind;
  optional: true;
}
type OpOf<K extends OpName> = Extract<Op, { op: K }>;
type FieldsOf<T> = {
  [F in Exclude<keyof T, 'op'>]-?: undefined extends T[F] ? OptionalField : RequiredField;
};

interface OpSpec<K extends OpName> {
  /** In the order they are validated, written and shown. */
  fields: FieldsOf<OpOf<K>>;
  /**
   * Known never to change what a file holds (a read, an fsync), so a
   * completion that lands during it does not race with a write of it. Marked
   * conservatively: an op left unmarked (sync_file_range, say) counts as one
   * that may write.
   */
  readOnly: boolean;
  /**
   * An injected fault rather than a system call: no syscall does it, a real
   * kernel needs dm-flakey, fail_make_request or a real power cut.
   */
  fault: boolean;
}

const OPS = {
  pwrite: {
    fields: {
      fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' }, fill: { kind: 'fill' },
      bsize: { kind: 'bsize', optional: true },
    },
    readOnly: false, fault: false,
  },
  pread: {
    fields: { fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' }, bsize: { kind: 'bsize', optional: true } },
    readOnly: true, fault: false,
  },
  truncate: { fields: { fd: { kind: 'fd' }, size: { kind: 'size' } }, readOnly: false, fault: false },
  fallocate: {
    fields: { fd: { kind: 'fd' }, mode: { kind: 'fallocMode' }, off: { kind: 'offset' }, len: { kind: 'length' } },
    readOnly: false, fault: false,
  },
  copy_range: {
    fields: {
      fdIn: { kind: 'fd' }, offIn: { kind: 'offset' }, fdOut: { kind: 'fd' }, offOut: { kind: 'offset' },
      len: { kind: 'length' },
    },
    readOnly: false, fault: false,
  },
  fsync: { fields: { fd: { kind: 'fd' } }, readOnly: true, fault: false },
  fdatasync: { fields: { fd: { kind: 'fd' } }, readOnly: true, fault: false },
  sync_file_range: {
    fields: { fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' }, flags: { kind: 'syncFlags' } },
    readOnly: false, fault: false,
  },
  fadvise_dontneed: {
    fields: { fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' } },
    readOnly: false, fault: false,
  },
  drop_caches: { fields: {}, readOnly: false, fault: false },
  evict: { fields: { file: { kind: 'file' } }, readOnly: false, fault: false },
  remount: { fields: {}, readOnly: false, fault: false },
  power_cut: { fields: { seed: { kind: 'seed' } }, readOnly: false, fault: true },
  close_open: { fields: { fd: { kind: 'fd' } }, readOnly: false, fault: false },
  mmap: {
    fields: {
      map: { kind: 'mapDef' }, fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' },
      prot: { kind: 'prot' },
    },
    readOnly: false, fault: false,
  },
  mread: { fields: { map: { kind: 'mapRef' }, off: { kind: 'offset' }, len: { kind: 'length' } }, readOnly: true, fault: false },
  mwrite: {
    fields: { map: { kind: 'mapRef' }, off: { kind: 'offset' }, len: { kind: 'length' }, fill: { kind: 'fill' } },
    readOnly: false, fault: false,
  },
  msync: {
    fields: { map: { kind: 'mapRef' }, off: { kind: 'offset' }, len: { kind: 'length' }, sync: { kind: 'bool' } },
    readOnly: false, fault: false,
  },
  munmap: { fields: { map: { kind: 'mapRef' } }, readOnly: false, fault: false },
  aio_write: {
    fields: {
      fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' }, fill: { kind: 'fill' },
      iocb: { kind: 'iocbDef' },
    },
    readOnly: false, fault: false,
  },
  aio_read: {
    fields: { fd: { kind: 'fd' }, off: { kind: 'offset' }, len: { kind: 'length' }, iocb: { kind: 'iocbDef' } },
    readOnly: true, fault: false,
  },
  aio_wait: { fields: { iocb: { kind: 'iocbRef' } }, readOnly: true, fault: false },
  writeback_kick: { fields: {}, readOnly: false, fault: false },
  reclaim: { fields: {}, readOnly: false, fault: false },
  fail_bio: {
    fields: { write: { kind: 'bool' }, skip: { kind: 'count' }, short: { kind: 'bool', optional: true } },
    readOnly: false, fault: true,
  },
} as const satisfies { [K in OpName]: OpSpec<K> };

export const OP_NAMES: readonly OpName[] = Object.keys(OPS) as OpName[];

// ---------------------------------------------------------------------------
// Field roles

export interface OpField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly optional: boolean;
}

/** Offsets, lengths and sizes: byte positions and counts in a file. */
export function isByteKind(kind: FieldKind): boolean {
  return kind === 'offset' || kind === 'length' || kind === 'size';
}

/** The kinds whose values are names (strings), not numbers. */
export type EnumKind = Extract<FieldKind, 'fallocMode' | 'prot'>;

export function isEnumKind(kind: FieldKind): kind is EnumKind {
  return kind === 'fallocMode' || kind === 'prot';
}

/** The two id spaces ops define and refer to: an mmap's map, an AIO submit's iocb. */
export type IdSpace = 'map' | 'iocb';
export const ID_SPACES: readonly IdSpace[] = ['map', 'iocb'];

const ID_KINDS: { [S in IdSpace]: { def: FieldKind; ref: FieldKind } } = {
  map: { def: 'mapDef', ref: 'mapRef' },
  iocb: { def: 'iocbDef', ref: 'iocbRef' },
};

/** What a field that points at something points into: the program's fds or files, or an id space. */
export type RefSpace = 'fd' | 'file' | IdSpace;

const REF_SPACE: { [K in FieldKind]?: RefSpace } = {
  fd: 'fd', file: 'file', mapDef: 'map', mapRef: 'map', iocbDef: 'iocb', iocbRef: 'iocb',
};

/** Per op, its fields looked up every way the users need, once: mutation and repair run per exec. */
interface OpIndex {
  fields: readonly OpField[];
  kindOf: ReadonlyMap<string, FieldKind>;
  byKind: ReadonlyMap<FieldKind, readonly string[]>;
  refs: readonly { field: string; space: RefSpace }[];
}

const NO_FIELDS: readonly string[] = [];

function indexOp(name: OpName): OpIndex {
  const spec: Record<string, RequiredField | OptionalField> = OPS[name].fields;
  const fields = Object.entries(spec).map(([field, f]): OpField => ({ name: field, kind: f.kind, optional: f.optional === true }));
  const byKind = new Map<FieldKind, string[]>();
  for (const f of fields) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f.name]);
  const refs = fields.flatMap((f) => {
    const space = REF_SPACE[f.kind];
    return space === undefined ? [] : [{ field: f.name, space }];
  });
  return { fields, kindOf: new Map(fields.map((f) => [f.name, f.kind])), byKind, refs };
}

const INDEX = Object.fromEntries(OP_NAMES.map((name) => [name, indexOp(name)])) as Record<OpName, OpIndex>;

/** The op's fields in schema order. */
export function opFields(name: OpName): readonly OpField[] {
  return INDEX[name].fields;
}

/** The kind of one field of the op; undefined when the op has no such field. */
export function fieldKind(name: OpName, field: string): FieldKind | undefined {
  return INDEX[name].kindOf.get(field);
}

/** The op's fields of one kind, in schema order (copy_range: fdIn, fdOut). */
export function fieldsOfKind(name: OpName, kind: FieldKind): readonly string[] {
  return INDEX[name].byKind.get(kind) ?? NO_FIELDS;
}

/** An op's values by field name, for code that walks its fields by role. */
export function opValues(op: Op): Record<string, unknown> {
  return op as unknown as Record<string, unknown>;
}

/**
 * Replace the value of each field of `op` that points at something (an fd, a
 * file, a map or iocb id, defined or referred to) by `to(space, value)`.
 */
export function rewriteRefs(op: Op, to: (space: RefSpace, value: number) => number): void {
  const values = opValues(op);
  for (const { field, space } of INDEX[op.op].refs) {
    const v = values[field];
    if (typeof v === 'number') values[field] = to(space, v);
  }
}

function idField(op: Op, kind: FieldKind): number | undefined {
  const field = fieldsOfKind(op.op, kind)[0];
  return field === undefined ? undefined : (opValues(op)[field] as number);
}

/** The id the op creates in `space` (an mmap's map, an AIO submit's iocb); undefined when it creates none. */
export function definedId(op: Op, space: IdSpace): number | undefined {
  return idField(op, ID_KINDS[space].def);
}

/** The id in `space` the op uses that another op creates (an mread's map, an aio_wait's iocb). */
export function referencedId(op: Op, space: IdSpace): number | undefined {
  return idField(op, ID_KINDS[space].ref);
}

// ---------------------------------------------------------------------------
// Op-level facts

type Schema = typeof OPS;
type KindsOf<N extends OpName> = {
  [F in keyof Schema[N]['fields']]: Schema[N]['fields'][F] extends { kind: infer K } ? K : never;
}[keyof Schema[N]['fields']];
/** The ops with a field of kind K, as a type. */
export type OpWith<K extends FieldKind> = { [N in OpName]: K extends KindsOf<N> ? OpOf<N> : never }[OpName];

function opsWhere(test: (name: OpName) => boolean): ReadonlySet<OpName> {
  return new Set(OP_NAMES.filter(test));
}

/** Ops that never change what a file holds: pread, mread, aio_read, aio_wait, fsync, fdatasync. */
export const READ_ONLY_OPS: ReadonlySet<OpName> = opsWhere((name) => OPS[name].readOnly);

/** Injected faults, with no syscall behind them: fail_bio, power_cut. */
export const FAULT_OPS: ReadonlySet<OpName> = opsWhere((name) => OPS[name].fault);

/**
 * Ops whose effect lands at a moment the program does not choose: an AIO
 * completes when the device says; writeback_kick and reclaim stand for
 * kernel threads that run beside the program. On a real kernel their
 * results depend on timing, so a kernel campaign judges them by the oracle
 * (what any timing allows), never by one sim schedule's values.
 */
export const TIMED_OPS: ReadonlySet<OpName> = new Set<OpName>(['aio_write', 'aio_read', 'aio_wait', 'writeback_kick', 'reclaim']);

/** The ops that submit asynchronous I/O (create an iocb): aio_write, aio_read. */
export type AioSubmitOp = OpWith<'iocbDef'>;
export const AIO_SUBMIT_OPS: ReadonlySet<OpName> = opsWhere((name) => fieldsOfKind(name, 'iocbDef').length > 0);

export function isAioSubmit(op: Op): op is AioSubmitOp {
  return AIO_SUBMIT_OPS.has(op.op);
}

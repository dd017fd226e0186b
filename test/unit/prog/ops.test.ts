// The op schema: it covers every op and field of the language, gives each
// field the role the rest of foliofuzz relies on, and states the op-level
// facts the executor and the fuzzer share.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AIO_SUBMIT_OPS, FAULT_OPS, OP_NAMES, READ_ONLY_OPS, definedId, fieldKind, fieldsOfKind, isAioSubmit, isByteKind,
  isEnumKind, opFields, referencedId, rewriteRefs, type AioSubmitOp, type FieldKind, type OpWith,
} from '../../../worker/prog/ops.js';
import type { Op } from '../../../worker/prog/types.js';
import { validateProgram } from '../../../worker/prog/validate.js';
import { SAMPLE_OPS, sampleProgram } from './sample-ops.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

test('the sample has one op of every kind of the schema, valid, in schema order', () => {
  assert.deepEqual(SAMPLE_OPS.map((op) => op.op), OP_NAMES);
  assert.equal(new Set(OP_NAMES).size, OP_NAMES.length);
  const p = sampleProgram([...SAMPLE_OPS]);
  assert.deepEqual(validateProgram(structuredClone(p), 'sample'), p);
});

test('every field of every op has a kind, and every schema field exists in the op', () => {
  for (const op of SAMPLE_OPS) {
    const keys = Object.keys(op).filter((k) => k !== 'op');
    for (const k of keys) assert.notEqual(fieldKind(op.op, k), undefined, `${op.op}.${k}`);
    assert.deepEqual(opFields(op.op).map((f) => f.name), keys, `${op.op}: schema order is the sample's`);
    assert.equal(fieldKind(op.op, 'nonsense'), undefined);
  }
});

test('the optional fields are exactly bsize and fail_bio.short', () => {
  const optional = OP_NAMES.flatMap((name) => opFields(name).filter((f) => f.optional).map((f) => `${name}.${f.name}`));
  assert.deepEqual(optional, ['pwrite.bsize', 'pread.bsize', 'fail_bio.short']);
});

test('byte fields: off, offIn and offOut are file offsets, len a length, truncate.size a size', () => {
  const byKind = (kind: FieldKind): string[] => OP_NAMES.flatMap((name) => fieldsOfKind(name, kind).map((f) => `${name}.${f}`));
  assert.deepEqual(byKind('size'), ['truncate.size']);
  assert.deepEqual(new Set(byKind('length').map((f) => f.split('.')[1])), new Set(['len']));
  assert.deepEqual(new Set(byKind('offset').map((f) => f.split('.')[1])), new Set(['off', 'offIn', 'offOut']));
  assert.deepEqual(fieldsOfKind('copy_range', 'offset'), ['offIn', 'offOut']);
  assert.deepEqual(fieldsOfKind('copy_range', 'fd'), ['fdIn', 'fdOut']);
  assert.deepEqual(fieldsOfKind('drop_caches', 'fd'), []);
  for (const kind of ['offset', 'length', 'size'] as const) assert.ok(isByteKind(kind));
  for (const kind of ['bsize', 'fd', 'fill', 'seed'] as const) assert.ok(!isByteKind(kind));
});

test('every field is a number, a boolean, or (enum kinds only) a name', () => {
  for (const op of SAMPLE_OPS) {
    for (const f of opFields(op.op)) {
      const v = (op as unknown as Record<string, unknown>)[f.name];
      if (isEnumKind(f.kind)) assert.equal(typeof v, 'string', `${op.op}.${f.name}`);
      else if (f.kind === 'bool') assert.equal(typeof v, 'boolean', `${op.op}.${f.name}`);
      else assert.ok(Number.isInteger(v), `${op.op}.${f.name}`);
    }
  }
});

test('op facts: read-only ops, injected faults, AIO submits', () => {
  assert.deepEqual([...READ_ONLY_OPS].sort(), ['aio_read', 'aio_wait', 'fdatasync', 'fsync', 'mread', 'pread']);
  assert.deepEqual([...FAULT_OPS].sort(), ['fail_bio', 'power_cut']);
  assert.deepEqual([...AIO_SUBMIT_OPS].sort(), ['aio_read', 'aio_write']);
  assert.deepEqual(SAMPLE_OPS.filter(isAioSubmit).map((op) => op.op), ['aio_write', 'aio_read']);
  // The type-level view agrees with the table.
  const aio: Equal<AioSubmitOp['op'], 'aio_write' | 'aio_read'> = true;
  const mapUsers: Equal<OpWith<'mapRef'>['op'], 'mread' | 'mwrite' | 'msync' | 'munmap'> = true;
  assert.ok(aio && mapUsers);
});

test('maps and iocbs: an mmap and an AIO submit define one, their users refer to it', () => {
  const defs = SAMPLE_OPS.flatMap((op) => {
    const map = definedId(op, 'map');
    const iocb = definedId(op, 'iocb');
    return [...(map === undefined ? [] : [`${op.op} map ${map}`]), ...(iocb === undefined ? [] : [`${op.op} iocb ${iocb}`])];
  });
  assert.deepEqual(defs, ['mmap map 0', 'aio_write iocb 0', 'aio_read iocb 1']);
  const refs = SAMPLE_OPS.flatMap((op) => {
    const map = referencedId(op, 'map');
    const iocb = referencedId(op, 'iocb');
    return [...(map === undefined ? [] : [`${op.op} map ${map}`]), ...(iocb === undefined ? [] : [`${op.op} iocb ${iocb}`])];
  });
  assert.deepEqual(refs, ['mread map 0', 'mwrite map 0', 'msync map 0', 'munmap map 0', 'aio_wait iocb 0']);
});

test('rewriteRefs reaches every fd, file, map and iocb field and nothing else', () => {
  const seen: string[] = [];
  for (const sample of SAMPLE_OPS) {
    const op: Op = structuredClone(sample);
    rewriteRefs(op, (space, v) => {
      seen.push(`${sample.op}:${space}`);
      return v + 100;
    });
    for (const f of opFields(op.op)) {
      const before = (sample as unknown as Record<string, unknown>)[f.name];
      const after = (op as unknown as Record<string, unknown>)[f.name];
      const isRef = ['fd', 'file', 'mapDef', 'mapRef', 'iocbDef', 'iocbRef'].includes(f.kind);
      assert.deepEqual(after, isRef ? (before as number) + 100 : before, `${op.op}.${f.name}`);
    }
  }
  assert.ok(seen.includes('copy_range:fd') && seen.includes('evict:file') && seen.includes('mmap:map') && seen.includes('aio_wait:iocb'));
});

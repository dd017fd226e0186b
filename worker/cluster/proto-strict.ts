// A strict look at an encoded protobuf message before protobufjs decodes it:
// protobufjs reads a uint32 field sent as a larger varint modulo 2^32 (a
// `seed` of 2^32 + 5 becomes 5), any non-zero bool as true, and skips field
// numbers it does not know. Untrusted bytes (gRPC requests, NATS payloads)
// go through checkEncoded first, which walks the message and every message
// inside it and refuses, naming the field:
//
//   - a varint of a 32-bit field (uint32, int32, sint32, enum) out of its
//     type's range, a bool other than 0 or 1, a varint longer than 64 bits;
//   - a field sent with the wrong wire type (a packable repeated scalar may
//     come packed);
//   - with `unknownFields: 'refuse'`, a field number the schema lacks (a
//     gRPC request must say only what the API knows; a NATS payload may come
//     from a newer version and skips them).

import protobuf from 'protobufjs';

export interface StrictOptions {
  unknownFields: 'refuse' | 'skip';
  /** A field's name as errors show it (default: protobufjs' camelCase name). */
  fieldName?: (name: string) => string;
}

export class StrictDecodeError extends Error {
  override name = 'StrictDecodeError';
}

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];
const TWO_32 = 2 ** 32;
const TWO_31 = 2n ** 31n;
const TWO_64 = 2n ** 64n;

/** The wire types a field's values may arrive with (a packable repeated scalar may also come packed, as 2). */
export function expectedWireTypes(field: protobuf.Field): number[] {
  if (field.resolvedType instanceof protobuf.Enum) return field.repeated ? [0, 2] : [0];
  if (field.resolvedType instanceof protobuf.Type) return [2];
  const basic = (protobuf.types.basic as Record<string, number | undefined>)[field.type];
  if (basic === undefined) return [2]; // string, bytes
  const packable = (protobuf.types.packed as Record<string, number | undefined>)[field.type] !== undefined;
  return field.repeated && packable ? [basic, 2] : [basic];
}

class Walker {
  pos: number;

  constructor(readonly buf: Uint8Array, start: number, readonly end: number, private readonly where: string) {
    this.pos = start;
  }

  fail(why: string): never {
    throw new StrictDecodeError(this.where ? `${this.where}: ${why}` : why);
  }

  /** A varint: a number when it fits in 35 bits (5 bytes), else a bigint. */
  varint(): number | bigint {
    const from = this.pos;
    let n = 0;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      if (i < 5) n += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) break;
      if (i === 9) this.fail('varint longer than 64 bits');
    }
    if (this.pos - from <= 5) return n;
    let big = 0n;
    for (let i = this.pos - 1; i >= from; i--) big = (big << 7n) | BigInt(this.buf[i]! & 0x7f);
    if (big >= TWO_64) this.fail('varint longer than 64 bits');
    return big;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.advance(this.length()); return;
      case 5: this.advance(4); return;
      default: this.fail(`wire type ${wire} (groups are not used)`);
    }
  }

  length(): number {
    const n = this.varint();
    if (typeof n !== 'number' || n > this.end - this.pos) this.fail('length past the end of the message');
    return n;
  }

  advance(n: number): void {
    if (n > this.end - this.pos) this.fail('field past the end of the message');
    this.pos += n;
  }
}

/** Why a varint is not a value of a field of type `type`, or null. */
function varintRange(type: string, isEnum: boolean, v: number | bigint): string | null {
  const big = BigInt(v);
  if (type === 'bool') return big === 0n || big === 1n ? null : `${big} is not a bool (0 or 1)`;
  if (type === 'uint32' || type === 'sint32') return big < TWO_32 ? null : `${big} is out of range for ${type}`;
  if (type === 'int32' || isEnum) {
    // A negative int32 travels sign-extended to 64 bits.
    return big < TWO_31 || (big >= TWO_64 - TWO_31) ? null : `${big} is out of range for ${isEnum ? 'an enum' : 'int32'}`;
  }
  return null;
}

function checkValue(w: Walker, field: protobuf.Field, wire: number, o: StrictOptions, path: string): void {
  const type = field.resolvedType;
  if (type instanceof protobuf.Type) {
    const len = w.length();
    walk(type, w.buf, w.pos, w.pos + len, o, path);
    w.pos += len;
    return;
  }
  const isEnum = type instanceof protobuf.Enum;
  if (wire === 2 && (isEnum || (protobuf.types.basic as Record<string, number | undefined>)[field.type] === 0)) {
    // Packed varints.
    const len = w.length();
    const end = w.pos + len;
    const inner = new Walker(w.buf, w.pos, end, path);
    while (inner.pos < end) {
      const why = varintRange(field.type, isEnum, inner.varint());
      if (why) inner.fail(why);
    }
    w.pos = end;
    return;
  }
  if (wire !== 0) {
    w.skip(wire);
    return;
  }
  const why = varintRange(field.type, isEnum, w.varint());
  if (why) w.fail(`${path}: ${why}`);
}

function walk(type: protobuf.Type, buf: Uint8Array, start: number, end: number, o: StrictOptions, prefix: string): void {
  const name = o.fieldName ?? ((n: string) => n);
  const w = new Walker(buf, start, end, '');
  /** Values seen so far of each repeated field, for the index in a path. */
  const seen = new Map<number, number>();
  while (w.pos < end) {
    const tag = w.varint();
    if (typeof tag !== 'number' || tag > 0xffff_ffff) return w.fail(`${prefix || type.name}: malformed tag`);
    const id = Math.floor(tag / 8);
    const wire = tag % 8;
    const field = type.fieldsById[id];
    if (field === undefined) {
      if (o.unknownFields === 'refuse') w.fail(`${prefix ? `${prefix}: ` : ''}unknown field number ${id}`);
      w.skip(wire);
      continue;
    }
    field.resolve();
    let path = prefix ? `${prefix}.${name(field.name)}` : name(field.name);
    if (field.repeated && wire === 2 && field.resolvedType instanceof protobuf.Type) {
      const i = seen.get(id) ?? 0;
      seen.set(id, i + 1);
      path += `[${i}]`;
    }
    const want = expectedWireTypes(field);
    if (!want.includes(wire)) {
      w.fail(`${path}: sent as ${WIRE_NAMES[wire] ?? `wire type ${wire}`}, expected ${want.map((x) => WIRE_NAMES[x]).join(' or ')}`);
    }
    checkValue(w, field, wire, o, path);
  }
}

/** Walk `buf` as a `type`; throws a StrictDecodeError naming the field (its path through the nested messages). */
export function checkEncoded(type: protobuf.Type, buf: Uint8Array, o: StrictOptions): void {
  walk(type, buf, 0, buf.length, o, '');
}

// The gRPC service foliofuzz.v1.Foliofuzz as grpc-js sees it, built from
// proto/foliofuzz.proto with protobufjs so the .proto stays the one schema.
//
// Requests are decoded strictly: a field sent with the wrong wire type, an
// unknown field number or bytes that do not parse are reported (by name) instead
// of being skipped or read as garbage, and the deserializer never throws (grpc-js
// would answer INTERNAL): it hands the handler a Decoded that says what was wrong,
// and the server answers INVALID_ARGUMENT. Decoded requests keep proto3's "unset"
// (defaults off), so validation can say which field is missing.

import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { findProtoFile } from '../worker/prog/proto-codec.js';
import type { CampaignInfo, CampaignState, FindingInfo } from './api.js';

export const PACKAGE = 'foliofuzz.v1';
export const SERVICE_NAME = `${PACKAGE}.Foliofuzz`;

export type WireObject = Record<string, unknown>;

export type Decoded = { ok: true; value: WireObject } | { ok: false; error: string };

let root: protobuf.Root | undefined;

export function apiRoot(): protobuf.Root {
  root ??= new protobuf.Root().loadSync(findProtoFile(), { keepCase: false });
  return root;
}

/** The wire type a field's values must arrive with (a packable repeated scalar may also come packed, as 2). */
function expectedWireTypes(field: protobuf.Field): number[] {
  if (field.resolvedType instanceof protobuf.Enum) return field.repeated ? [0, 2] : [0];
  if (field.resolvedType instanceof protobuf.Type) return [2];
  const basic = (protobuf.types.basic as Record<string, number | undefined>)[field.type];
  if (basic === undefined) return [2]; // string, bytes
  const packable = (protobuf.types.packed as Record<string, number | undefined>)[field.type] !== undefined;
  return field.repeated && packable ? [basic, 2] : [basic];
}

/** A field's name as the .proto spells it (protobufjs camelCases them). */
export function protoName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

/** Walk the top level of an encoded message and check every field number and wire type. */
function checkWire(type: protobuf.Type, buf: Uint8Array): void {
  const reader = protobuf.Reader.create(buf);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const field = type.fieldsById[id];
    if (field === undefined) throw new Error(`unknown field number ${id}`);
    field.resolve();
    const want = expectedWireTypes(field);
    if (!want.includes(wire)) {
      throw new Error(`${protoName(field.name)}: sent as ${WIRE_NAMES[wire] ?? `wire type ${wire}`}, expected ${want.map((w) => WIRE_NAMES[w]).join(' or ')}`);
    }
    reader.skipType(wire);
  }
}

/** Decode an untrusted request; never throws. */
export function decodeRequest(type: protobuf.Type, buf: Buffer): Decoded {
  try {
    checkWire(type, buf);
    const msg = type.decode(buf);
    return { ok: true, value: type.toObject(msg, { longs: Number, enums: String, defaults: false, arrays: true }) };
  } catch (e) {
    return { ok: false, error: `malformed ${type.name}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Decode a response (from our own server); unset scalars read as their zero value. */
export function decodeResponse(type: protobuf.Type, buf: Buffer): WireObject {
  return type.toObject(type.decode(buf), { longs: Number, enums: String, defaults: true, arrays: true });
}

export function encodeMessage(type: protobuf.Type, obj: WireObject): Buffer {
  const msg = type.fromObject(obj);
  const err = type.verify(msg);
  if (err) throw new Error(`${type.name}: ${err}`);
  return Buffer.from(type.encode(msg).finish());
}

/**
 * grpc-js method definitions for every RPC of the service: the server decodes
 * requests strictly (as untrusted), the client decodes responses leniently.
 */
export function serviceDefinition(): ServiceDefinition {
  const service = apiRoot().lookupService(SERVICE_NAME);
  const def: Record<string, MethodDefinition<unknown, WireObject>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    def[method.name] = {
      path: `/${SERVICE_NAME}/${method.name}`,
      originalName: method.name,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      // Client side: a plain request object out. Server side: a Decoded in.
      requestSerialize: (v: unknown) => encodeMessage(req, v as WireObject),
      requestDeserialize: (buf: Buffer): Decoded => decodeRequest(req, buf),
      responseSerialize: (v: WireObject) => encodeMessage(res, v),
      responseDeserialize: (buf: Buffer) => decodeResponse(res, buf),
    };
  }
  return def as unknown as ServiceDefinition;
}

// ---------------------------------------------------------------------------
// api.ts <-> wire shapes. Field names already agree (protobufjs camelCases the
// proto's names); only the state enum differs.

const STATE_PREFIX = 'CAMPAIGN_STATE_';

export function campaignToWire(c: CampaignInfo): WireObject {
  return { ...c, bugs: [...c.bugs], state: STATE_PREFIX + c.state.toUpperCase() };
}

const STATES: readonly CampaignState[] = ['running', 'stopped', 'done'];

export function campaignFromWire(w: WireObject): CampaignInfo {
  const raw = String(w['state']);
  const state = raw.startsWith(STATE_PREFIX) ? raw.slice(STATE_PREFIX.length).toLowerCase() : raw;
  if (!(STATES as readonly string[]).includes(state)) throw new Error(`CampaignInfo.state: unknown value ${raw}`);
  return { ...(w as unknown as CampaignInfo), state: state as CampaignState };
}

export function findingToWire(f: FindingInfo): WireObject {
  return { ...f };
}

export function findingFromWire(w: WireObject): FindingInfo {
  return { ...(w as unknown as FindingInfo) };
}

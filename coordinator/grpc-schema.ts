// The gRPC service foliofuzz.v1.Foliofuzz as grpc-js sees it, built from
// proto/foliofuzz.proto with protobufjs so the .proto stays the one schema.
//
// Requests are decoded strictly (worker/cluster/proto-strict.ts): a field sent
// with the wrong wire type, a number out of its field's range (a uint32 seed
// of 2^32 + 5 is not 5), an unknown field number or bytes that do not parse
// are reported (by name) instead of being skipped or read as garbage, and the deserializer never throws (grpc-js
// would answer INTERNAL): it hands the handler a Decoded that says what was wrong,
// and the server answers INVALID_ARGUMENT. Decoded requests keep proto3's "unset"
// (defaults off), so validation can say which field is missing.

import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { checkEncoded } from '../worker/cluster/proto-strict.js';
import { findProtoFile } from '../worker/prog/proto-codec.js';
import type { KernelVerdict } from '../worker/report/kernel-verdict.js';
import type { CampaignInfo, CampaignState, FindingInfo, KernelConfirmInfo } from './api.js';

export const PACKAGE = 'foliofuzz.v1';
export const SERVICE_NAME = `${PACKAGE}.Foliofuzz`;

export type WireObject = Record<string, unknown>;

export type Decoded = { ok: true; value: WireObject } | { ok: false; error: string };

let root: protobuf.Root | undefined;

export function apiRoot(): protobuf.Root {
  root ??= new protobuf.Root().loadSync(findProtoFile(), { keepCase: false });
  return root;
}

/** A field's name as the .proto spells it (protobufjs camelCases them). */
export function protoName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Decode an untrusted request; never throws. */
export function decodeRequest(type: protobuf.Type, buf: Buffer): Decoded {
  try {
    checkEncoded(type, buf, { unknownFields: 'refuse', fieldName: protoName });
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
  const { kernelConfirm, ...rest } = w;
  return { ...(rest as unknown as CampaignInfo), state: state as CampaignState, ...(kernelConfirm ? { kernelConfirm: kernelConfirm as KernelConfirmInfo } : {}) };
}

/** A verdict's unset fields are proto3 `optional`: null in KernelVerdict's terms, left out on the wire. */
export function findingToWire(f: FindingInfo): WireObject {
  return { ...f };
}

export function findingFromWire(w: WireObject): FindingInfo {
  const { kernel, ...rest } = w;
  return { ...(rest as unknown as FindingInfo), ...(kernel ? { kernel: verdictFromWire(kernel as WireObject) } : {}) };
}

const VERDICT_OPTIONAL = ['release', 'fs', 'signature', 'detail'] as const;

function verdictFromWire(w: WireObject): KernelVerdict {
  const v = { ...w };
  for (const k of VERDICT_OPTIONAL) v[k] ??= null;
  return v as unknown as KernelVerdict;
}

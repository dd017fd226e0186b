// Kernel confirmation's NATS payloads <-> plain data (proto/foliofuzz.proto:
// ConfirmJob, ConfirmResult, KernelVerdict). A ConfirmJob goes to one worker
// started with --kernel-confirm; its ConfirmResult carries the kernel twin's
// verdict back. Like every payload, untrusted: a decode checks every field
// (wire-fields.ts), and the verdict again as a verdict (kernelVerdictFromJson:
// its kind, hits within its runs and matching the kind, its date).

import { type KernelVerdict, MAX_KERNEL_CONFIRM_RUNS, kernelVerdictFromJson } from '../report/kernel-verdict.js';
import { programToProtoObject } from '../prog/proto-codec.js';
import type { Program } from '../prog/types.js';
import { type Fields, WireError, encode, fieldsOf } from './wire-fields.js';

export interface ConfirmJob {
  jobId: string;
  campaignId: string;
  signature: string;
  program: Program;
  runs: number;
}

export interface ConfirmResult {
  jobId: string;
  workerId: string;
  campaignId: string;
  signature: string;
  verdict: KernelVerdict;
}

export function encodeConfirmJob(j: ConfirmJob): Uint8Array {
  return encode('ConfirmJob', { ...j, program: programToProtoObject(j.program) });
}

export function decodeConfirmJob(buf: Uint8Array, source: string): ConfirmJob {
  const f = fieldsOf('ConfirmJob', buf, source);
  return {
    jobId: f.id('jobId'), campaignId: f.id('campaignId'), signature: f.text('signature', true),
    program: f.requiredProgram('program'), runs: f.uint('runs', 1, MAX_KERNEL_CONFIRM_RUNS),
  };
}

/** Null fields (no release where it could not run, say) are left unset: proto3 `optional`. */
export function encodeConfirmResult(r: ConfirmResult): Uint8Array {
  return encode('ConfirmResult', { ...r, verdict: { ...r.verdict } });
}

export function decodeConfirmResult(buf: Uint8Array, source: string): ConfirmResult {
  const f = fieldsOf('ConfirmResult', buf, source);
  return {
    jobId: f.id('jobId'), workerId: f.id('workerId'), campaignId: f.id('campaignId'), signature: f.text('signature', true),
    verdict: verdictFrom(f.sub('verdict')!),
  };
}

function verdictFrom(f: Fields): KernelVerdict {
  const plain = {
    verdict: f.text('verdict', true), text: f.text('text', true), release: f.optionalText('release'), fs: f.optionalText('fs'),
    runs: f.uint('runs', 0, MAX_KERNEL_CONFIRM_RUNS), hits: f.uint('hits'), signature: f.optionalText('signature'),
    detail: f.optionalText('detail'), log: f.strings('log', (l) => l), at: f.text('at', true),
  };
  try {
    return kernelVerdictFromJson(plain, `${f.source}: ${f.path}`);
  } catch (err) {
    throw new WireError(err instanceof Error ? err.message : String(err));
  }
}

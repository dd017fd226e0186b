// Kernel campaign batches' NATS payloads <-> plain data (proto/foliofuzz.proto:
// KernelBatch, KernelBatchResult, KernelConfigStats). A KernelBatch goes to
// one worker started with --kernel; its KernelBatchResult carries the
// config's figures and the findings back. Untrusted like every payload: the
// config is read by parseTwinConfigs (the one place configs are validated),
// every count is checked (wire-fields.ts), and the findings as findings.

import { ProgramInputError } from '../prog/errors.js';
import { configName, parseTwinConfigs } from '../twin/configs.js';
import type { ConfigStats } from '../twin/kernel-batch.js';
import type { FsSpec } from '../twin/provision.js';
import { type ResultFinding, foundToObject, resultFindingFrom } from './wire.js';
import { type Fields, WireError, encode, fieldsOf } from './wire-fields.js';

/** Programs in one kernel batch, at most. */
export const MAX_KERNEL_BATCH_PROGRAMS = 10_000;

export interface KernelBatch {
  batchId: string;
  campaignId: string;
  seed: number;
  programs: number;
  /** A config name, as parseTwinConfigs reads it (`xfs:1024`). */
  config: string;
}

export interface KernelBatchResult {
  workerId: string;
  campaignId: string;
  batchId: string;
  stats: ConfigStats;
  findings: ResultFinding[];
  ms: number;
}

/** The one config a name stands for; a WireError naming where, if it is not one. */
export function configOf(f: Fields, key: string): FsSpec {
  const name = f.text(key, true);
  try {
    const specs = parseTwinConfigs(name);
    if (specs.length !== 1 || configName(specs[0]!) !== name) f.fail(key, `expected one config name such as xfs:1024, got ${JSON.stringify(name.slice(0, 80))}`);
    return specs[0]!;
  } catch (err) {
    if (err instanceof ProgramInputError) f.fail(key, err.message);
    throw err;
  }
}

export function encodeKernelBatch(b: KernelBatch): Uint8Array {
  return encode('KernelBatch', { ...b });
}

export function decodeKernelBatch(buf: Uint8Array, source: string): KernelBatch {
  const f = fieldsOf('KernelBatch', buf, source);
  return {
    batchId: f.id('batchId'), campaignId: f.id('campaignId'), seed: f.uint('seed'), programs: f.uint('programs', 1, MAX_KERNEL_BATCH_PROGRAMS),
    config: configName(configOf(f, 'config')),
  };
}

export function encodeKernelBatchResult(r: KernelBatchResult): Uint8Array {
  return encode('KernelBatchResult', { ...r, stats: { ...r.stats }, findings: r.findings.map(foundToObject) });
}

export function decodeKernelBatchResult(buf: Uint8Array, source: string): KernelBatchResult {
  const f = fieldsOf('KernelBatchResult', buf, source);
  return {
    workerId: f.id('workerId'), campaignId: f.id('campaignId'), batchId: f.id('batchId'), stats: statsFrom(f.sub('stats')!),
    findings: f.list('findings').map(resultFindingFrom), ms: f.real('ms'),
  };
}

function statsFrom(f: Fields): ConfigStats {
  const n = (k: string): number => f.uint(k, 0, MAX_KERNEL_BATCH_PROGRAMS);
  const s: ConfigStats = {
    config: configName(configOf(f, 'config')), programs: n('programs'), sequential: n('sequential'), kernelSec: f.real('kernelSec'), simSec: f.real('simSec'),
    divergences: n('divergences'), kernelViolations: n('kernelViolations'), explained: n('explained'), simViolations: n('simViolations'),
    timing: n('timing'), errors: n('errors'),
  };
  if (s.sequential > s.programs) throw new WireError(`${f.source}: ${f.path}.sequential: ${s.sequential} of ${s.programs} programs`);
  const outcomes = s.divergences + s.kernelViolations + s.simViolations + s.timing + s.errors;
  if (outcomes > s.programs) throw new WireError(`${f.source}: ${f.path}: ${outcomes} outcomes from ${s.programs} programs`);
  if (s.explained > s.divergences + s.kernelViolations) throw new WireError(`${f.source}: ${f.path}.explained: ${s.explained} of ${s.divergences + s.kernelViolations} findings`);
  return s;
}

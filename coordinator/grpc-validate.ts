// Field-by-field validation of decoded gRPC requests. Every failure is a
// RequestError whose message starts with the field's proto name, so a client
// learns exactly what to fix; the server turns it into INVALID_ARGUMENT.
// This is the one validation of a request: the coordinator takes what passes
// it as it is (the API has no other way in).

import { MAX_KERNEL_CONFIRM_RUNS } from '../worker/report/kernel-verdict.js';
import { EXPORT_FORMATS, type ExportFormat } from '../worker/repro/export.js';
import { BUG_SWITCHES, type BugName, findBug } from '../worker/sim/bugs.js';
import type { CreateCampaignRequest } from './api.js';
import { protoName, type WireObject } from './grpc-schema.js';

export class RequestError extends Error {
  override name = 'RequestError';
}

export const MAX_NAME_LENGTH = 100;
export const MAX_ID_LENGTH = 128;
/** A year: longer is a typo (milliseconds for seconds), not a campaign. */
export const MAX_DURATION_SEC = 366 * 24 * 3600;
const MAX_BUG_ENTRIES = 256;
/** A seed is a uint32 (the proto field's type). */
const MAX_SEED = 0xffff_ffff;
const ID_RE = /^[A-Za-z0-9._-]+$/;

function fail(field: string, why: string): never {
  throw new RequestError(`${field}: ${why}`);
}

/** No field besides `allowed` (decoding already refused unknown field numbers; this guards the mapping). */
function onlyFields(req: WireObject, allowed: readonly string[]): void {
  for (const k of Object.keys(req)) if (!allowed.includes(k)) fail(protoName(k), 'unexpected field');
}

function requireId(req: WireObject, key: string): string {
  const field = protoName(key);
  const v = req[key];
  if (v === undefined || v === '') fail(field, 'required');
  if (typeof v !== 'string') fail(field, 'expected a string');
  if (v.length > MAX_ID_LENGTH) fail(field, `too long (${v.length} characters, at most ${MAX_ID_LENGTH})`);
  if (!ID_RE.test(v)) fail(field, `${JSON.stringify(v.slice(0, 40))} is not an id (letters, digits, '.', '_', '-')`);
  return v;
}

/** CampaignRef: GetCampaign, StopCampaign, ResumeCampaign, ListFindings, WatchCampaign. */
export function validateCampaignRef(req: WireObject): string {
  onlyFields(req, ['campaignId']);
  return requireId(req, 'campaignId');
}

export function validateListCampaigns(req: WireObject): void {
  onlyFields(req, []);
}

/** Switch names as `fuzz --bugs` takes them: `seed` and `all` expand; unknown and planned ones are refused. */
function validateBugs(v: unknown): BugName[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail('bugs', 'expected a list of switch names');
  if (v.length > MAX_BUG_ENTRIES) fail('bugs', `too many entries (${v.length}, at most ${MAX_BUG_ENTRIES})`);
  const out = new Set<BugName>();
  v.forEach((name: unknown, i) => {
    const field = `bugs[${i}]`;
    if (typeof name !== 'string' || name === '') fail(field, 'expected a switch name');
    if (name === 'seed' || name === 'all') {
      for (const b of BUG_SWITCHES) if (b.implemented && (name === 'all' || b.source.startsWith('seeds/'))) out.add(b.name);
      return;
    }
    const bug = findBug(name);
    if (!bug) fail(field, `unknown bug switch ${JSON.stringify(name.slice(0, 60))} (see: foliofuzz bugs)`);
    if (!bug.implemented) fail(field, `bug switch '${name}' is listed but not implemented in this build`);
    out.add(bug.name);
  });
  return [...out].sort();
}

export function validateCreateCampaign(req: WireObject): CreateCampaignRequest {
  onlyFields(req, ['name', 'bugs', 'durationSec', 'seed', 'kernelConfirmRuns']);
  const out: CreateCampaignRequest = { bugs: validateBugs(req['bugs']) };
  const name = req['name'];
  if (name !== undefined) {
    if (typeof name !== 'string') fail('name', 'expected a string');
    if (name.length > MAX_NAME_LENGTH) fail('name', `too long (${name.length} characters, at most ${MAX_NAME_LENGTH})`);
    // Control characters, format characters (bidi overrides and isolates, zero-width ones: a name that
    // reads differently from what it is), lone surrogates, line and paragraph separators.
    const bad = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u.exec(name);
    if (bad) fail('name', `contains U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} (control or format characters are not allowed)`);
    if (name.trim() !== '') out.name = name;
  }
  const dur = req['durationSec'];
  if (dur !== undefined) {
    if (typeof dur !== 'number' || !Number.isFinite(dur)) fail('duration_sec', `expected a finite number of seconds, got ${String(dur)}`);
    if (dur <= 0) fail('duration_sec', `must be > 0, got ${dur}`);
    if (dur > MAX_DURATION_SEC) fail('duration_sec', `at most ${MAX_DURATION_SEC} seconds (a year), got ${dur}`);
    out.durationSec = dur;
  }
  const seed = req['seed'];
  if (seed !== undefined) {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0 || seed > MAX_SEED) {
      fail('seed', `expected an integer in [0, 2^32), got ${String(seed)}`);
    }
    out.seed = seed;
  }
  const runs = req['kernelConfirmRuns'];
  if (runs !== undefined) {
    if (typeof runs !== 'number' || !Number.isSafeInteger(runs) || runs < 1 || runs > MAX_KERNEL_CONFIRM_RUNS) {
      fail('kernel_confirm_runs', `expected runs of each finding on a real kernel, an integer in [1, ${MAX_KERNEL_CONFIRM_RUNS}], got ${String(runs)}`);
    }
    out.kernelConfirmRuns = runs;
  }
  return out;
}

const FORMAT_PREFIX = 'REPRO_FORMAT_';

export function validateDownloadRepro(req: WireObject): { findingId: string; format: ExportFormat } {
  onlyFields(req, ['findingId', 'format']);
  const findingId = requireId(req, 'findingId');
  const raw = req['format'];
  if (raw === undefined || raw === `${FORMAT_PREFIX}UNSPECIFIED`) fail('format', `required: one of ${EXPORT_FORMATS.join(', ')}`);
  if (typeof raw !== 'string') fail('format', `unknown value ${String(raw)}`);
  return { findingId, format: formatFromWire(raw) };
}

export function formatFromWire(raw: string): ExportFormat {
  const f = raw.startsWith(FORMAT_PREFIX) ? raw.slice(FORMAT_PREFIX.length).toLowerCase() : raw;
  if (!(EXPORT_FORMATS as readonly string[]).includes(f)) fail('format', `unknown value ${raw}`);
  return f as ExportFormat;
}

export function formatToWire(f: ExportFormat): string {
  return FORMAT_PREFIX + f.toUpperCase();
}

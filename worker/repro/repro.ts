// The native reproducer: a program, the switches under which it fails, and the
// failure it must show again. Plain JSON, so it can be filed with a bug report.

import { runProgram } from '../exec/run.js';
import { type KernelVerdict, kernelVerdictFromJson } from '../report/kernel-verdict.js';
import type { RunViolation } from '../report/violation.js';
import { ProgramInputError } from '../prog/errors.js';
import type { Program } from '../prog/types.js';
import { validateProgram } from '../prog/validate.js';
import { BUG_SWITCHES, type BugName } from '../sim/bugs.js';
import { SIM_VERSION } from '../sim/version.js';

export interface Repro {
  format: 'foliofuzz-repro';
  version: 1;
  simVersion: string;
  /** '' for a control that must stay silent. */
  signature: string;
  invariant: string;
  /** Switches on when it reproduces. */
  bugs: BugName[];
  /** With its schedule (replay decisions) inside. */
  program: Program;
  minimized?: { opsBefore: number; opsAfter: number };
  foundAt?: { exec: number; sec: number };
  /**
   * What a real kernel did with it (the kernel twin's verdict), when it ran
   * on one: it travels with the reproducer, and a bug report quotes it.
   */
  kernel?: KernelVerdict;
}

export interface ReproExtra {
  minimized?: { opsBefore: number; opsAfter: number };
  foundAt?: { exec: number; sec: number };
}

export function makeRepro(program: Program, bugs: readonly BugName[], violation: RunViolation | null, extra: ReproExtra = {}): Repro {
  const r: Repro = {
    format: 'foliofuzz-repro',
    version: 1,
    simVersion: SIM_VERSION,
    signature: violation?.signature ?? '',
    invariant: violation?.invariant ?? '',
    bugs: [...bugs].sort(),
    program,
  };
  if (extra.minimized) r.minimized = { ...extra.minimized };
  if (extra.foundAt) r.foundAt = { ...extra.foundAt };
  return r;
}

function fail(source: string, path: string, reason: string): never {
  throw new ProgramInputError(`${source}: ${path}: ${reason}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(source: string, obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string') fail(source, `$.${key}`, `expected a string, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function count(source: string, v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(source, path, `expected a non-negative integer, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function pair<A extends string, B extends string>(source: string, v: unknown, path: string, a: A, b: B): Record<A | B, number> {
  if (!isObject(v)) fail(source, path, `expected an object with ${a} and ${b}`);
  for (const k of Object.keys(v)) if (k !== a && k !== b) fail(source, `${path}.${k}`, 'unknown field');
  return { [a]: count(source, v[a], `${path}.${a}`), [b]: count(source, v[b], `${path}.${b}`) } as Record<A | B, number>;
}

function parseVerdict(source: string, v: unknown): KernelVerdict {
  try {
    return kernelVerdictFromJson(v, `${source}: $.kernel`);
  } catch (err) {
    throw new ProgramInputError(err instanceof Error ? err.message : String(err));
  }
}

const REPRO_FIELDS = new Set(['format', 'version', 'simVersion', 'signature', 'invariant', 'bugs', 'program', 'minimized', 'foundAt', 'kernel']);

function parseBugs(source: string, v: unknown): BugName[] {
  if (!Array.isArray(v)) fail(source, '$.bugs', 'expected an array of bug switch names');
  return v.map((b, i) => {
    const known = BUG_SWITCHES.find((s) => s.name === b);
    if (known === undefined) fail(source, `$.bugs[${i}]`, `unknown bug switch ${JSON.stringify(b)} (see \`foliofuzz bugs\`)`);
    return known.name;
  });
}

/**
 * Parse a reproducer; `source` names the input in errors, which carry the JSON
 * path of the first bad field. A bare Program (no `format` field) is accepted as
 * a reproducer with no switches and no expected signature.
 */
export function parseRepro(text: string, source: string): Repro {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ProgramInputError(`${source}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(value)) fail(source, '$', 'expected a reproducer or program object');
  if (value['format'] === undefined) return makeRepro(validateProgram(value, source), [], null);
  if (value['format'] !== 'foliofuzz-repro') fail(source, '$.format', `expected "foliofuzz-repro", got ${JSON.stringify(value['format'])}`);
  for (const k of Object.keys(value)) if (!REPRO_FIELDS.has(k)) fail(source, `$.${k}`, 'unknown field');
  if (value['version'] !== 1) fail(source, '$.version', `unsupported reproducer version ${JSON.stringify(value['version']) ?? 'nothing'} (this build reads 1)`);
  const simVersion = str(source, value, 'simVersion');
  const signature = str(source, value, 'signature');
  const invariant = str(source, value, 'invariant');
  const bugs = parseBugs(source, value['bugs']);
  if (value['program'] === undefined) fail(source, '$.program', 'missing');
  // Errors inside the program name their path from the program's root: prefix it.
  let program: Program;
  try {
    program = validateProgram(value['program'], source);
  } catch (err) {
    if (err instanceof ProgramInputError) throw new ProgramInputError(err.message.replace(`${source}: $`, `${source}: $.program`));
    throw err;
  }
  const r: Repro = { format: 'foliofuzz-repro', version: 1, simVersion, signature, invariant, bugs, program };
  if (value['minimized'] !== undefined) r.minimized = pair(source, value['minimized'], '$.minimized', 'opsBefore', 'opsAfter');
  if (value['foundAt'] !== undefined) r.foundAt = pair(source, value['foundAt'], '$.foundAt', 'exec', 'sec');
  if (value['kernel'] !== undefined) r.kernel = parseVerdict(source, value['kernel']);
  return r;
}

export function reproJson(r: Repro): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export interface ReplayOutcome {
  /** The run reported the expected signature (for a control: stayed silent). */
  reproduced: boolean;
  /** What the first run reported, null when silent. */
  signature: string | null;
  /** Every run reported the same thing. */
  deterministic: boolean;
}

/** Run the reproducer `runs` times with its switches on. */
export function replayRepro(r: Repro, runs = 1): ReplayOutcome {
  const bugs = new Set(r.bugs);
  const seen: (string | null)[] = [];
  for (let i = 0; i < Math.max(1, runs); i++) {
    const res = runProgram(r.program, { bugs });
    seen.push(res.violation?.signature ?? (res.harnessError !== null ? `HARNESS ${res.harnessError.split('\n')[0] ?? ''}` : null));
  }
  const signature = seen[0] ?? null;
  return {
    reproduced: r.signature === '' ? signature === null : signature === r.signature,
    signature,
    deterministic: seen.every((s) => s === signature),
  };
}

// A reproducer inside a store (findings/<id>/repro.json) has its finding's
// record beside it (finding.json), where the kernel twin's verdict is kept:
// `kernel confirm` writes it there, and `export` reads it back so a bug
// report quotes what the real kernel did.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeAtomic } from '../../corpus/store.js';
import { ProgramInputError } from '../prog/errors.js';
import { type KernelVerdict, kernelVerdictFromJson } from '../report/kernel-verdict.js';

function findingFile(reproPath: string): string | null {
  const path = join(dirname(reproPath), 'finding.json');
  return existsSync(path) ? path : null;
}

function readRecord(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProgramInputError(`${path}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProgramInputError(`${path}: not a finding record`);
  return value as Record<string, unknown>;
}

/** The verdict stored with the reproducer's finding; null outside a store or before a confirmation. */
export function storedKernelVerdict(reproPath: string): KernelVerdict | null {
  const path = findingFile(reproPath);
  if (path === null) return null;
  const v = readRecord(path)['kernel'];
  if (v === undefined) return null;
  try {
    return kernelVerdictFromJson(v, `${path}: kernel`);
  } catch (err) {
    throw new ProgramInputError(err instanceof Error ? err.message : String(err));
  }
}

/** Store the verdict with the reproducer's finding: the file written, or null outside a store. */
export function recordKernelVerdict(reproPath: string, v: KernelVerdict): string | null {
  const path = findingFile(reproPath);
  if (path === null) return null;
  const record = readRecord(path);
  record['kernel'] = v;
  writeAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

// The on-disk store of a campaign: its corpus, its findings and their
// reproducers, and its counters. Plain files, one JSON document each, written
// atomically (temp file + rename), so a campaign killed at any point leaves a
// store that loads.
//
//   DIR/campaign.json                 counters and settings
//   DIR/corpus/<id>.json              { program, points }
//   DIR/findings/<id>/finding.json    the finding's record, without programs (worker/fuzz/findings/record.ts)
//   DIR/findings/<id>/first.json      the first program that hit it
//   DIR/findings/<id>/repro.json      the (minimized) reproducer
//   DIR/findings/<id>/verify.json     (cluster) the program a pending cross-check replays
//
// Finding ids are a hash of the signature, so the same bug lands in the same
// directory in every campaign.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Program } from '../worker/prog/types.js';
import { findingId } from '../worker/report/signature.js';

export function programId(program: Program): string {
  return createHash('sha256').update(JSON.stringify(program)).digest('hex').slice(0, 16);
}

export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export interface StoredInput {
  program: Program;
  points: number[];
}

export class Store {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'corpus'), { recursive: true });
    mkdirSync(join(dir, 'findings'), { recursive: true });
  }

  saveInput(program: Program, points: readonly number[]): string {
    const path = join(this.dir, 'corpus', `${programId(program)}.json`);
    if (!existsSync(path)) writeAtomic(path, JSON.stringify({ program, points }) + '\n');
    return path;
  }

  /** Every stored corpus input (malformed files are skipped and named in `bad`). */
  loadInputs(bad: string[] = []): StoredInput[] {
    const dir = join(this.dir, 'corpus');
    const out: StoredInput[] = [];
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.json')) continue;
      try {
        const v = JSON.parse(readFileSync(join(dir, name), 'utf8')) as StoredInput;
        if (v && typeof v === 'object' && Array.isArray(v.points) && v.program) out.push(v);
        else bad.push(name);
      } catch {
        bad.push(name);
      }
    }
    return out;
  }

  findingDir(signature: string): string {
    const d = join(this.dir, 'findings', findingId(signature));
    mkdirSync(d, { recursive: true });
    return d;
  }

  saveFinding(signature: string, meta: object, firstProgram: Program): string {
    const d = this.findingDir(signature);
    writeAtomic(join(d, 'finding.json'), JSON.stringify(meta, null, 2) + '\n');
    const first = join(d, 'first.json');
    if (!existsSync(first)) writeAtomic(first, JSON.stringify(firstProgram, null, 2) + '\n');
    return d;
  }

  /** Write a reproducer's JSON text; returns its path. */
  saveRepro(signature: string, reproJson: string): string {
    const path = join(this.findingDir(signature), 'repro.json');
    writeAtomic(path, reproJson);
    return path;
  }

  /** A finding's reproducer as text; null when none is stored. */
  readRepro(signature: string): string | null {
    return this.readFindingFile(signature, 'repro.json');
  }

  /** Another JSON document of a finding (the cluster keeps its pending jobs there). */
  saveFindingFile(signature: string, name: string, value: unknown): void {
    writeAtomic(join(this.findingDir(signature), name), JSON.stringify(value, null, 2) + '\n');
  }

  /** A finding's file as text; null when absent. */
  readFindingFile(signature: string, name: string): string | null {
    const path = join(this.dir, 'findings', findingId(signature), name);
    return existsSync(path) ? readFileSync(path, 'utf8') : null;
  }

  /** The ids (directory names) of every stored finding. */
  findingIds(): string[] {
    return readdirSync(join(this.dir, 'findings')).filter((n) => /^[0-9a-f]{12}$/.test(n)).sort();
  }

  /** A finding's file by finding id; null when absent. */
  readFindingFileById(id: string, name: string): string | null {
    const path = join(this.dir, 'findings', id, name);
    return existsSync(path) ? readFileSync(path, 'utf8') : null;
  }

  saveCampaign(state: object): void {
    writeAtomic(join(this.dir, 'campaign.json'), JSON.stringify(state, null, 2) + '\n');
  }

  loadCampaign<T>(): T | null {
    const path = join(this.dir, 'campaign.json');
    if (!existsSync(path)) return null;
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  }
}

// A store read back for people: the runs it holds and their findings, as
// `foliofuzz findings` lists them and the dashboard shows them. Nothing here
// writes a file (a path that holds no store is an error, never created; the
// store class only makes a run's missing corpus/ directory).
//
// A store directory is one of (or holds several of):
//   an embedded run      DIR/campaign.json, DIR/findings/<sha12>/, DIR/corpus/
//   runs kept apart      DIR/run-<n>/ each an embedded run (the default store of `fuzz`)
//   a cluster store      DIR/campaigns/<id>/ each a campaign's store
//
// A finding is read through the finding pipeline's own loader (its record,
// checked field by field) and its finding.json again for the fields others
// may add to a record later (a real kernel's verdict, say): those are shown
// when present and well formed, never invented.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Store } from '../../corpus/store.js';
import { FindingFiles } from '../../worker/fuzz/findings/files.js';
import type { FindingRecord } from '../../worker/fuzz/findings/record.js';
import { ProgramInputError } from '../../worker/prog/errors.js';
import { type SwitchesNeeded, switchesNeeded } from '../../worker/repro/explain.js';
import { type Repro, parseRepro } from '../../worker/repro/repro.js';
import { BUG_SWITCHES, type BugName } from '../../worker/sim/bugs.js';

export interface StoredFinding {
  record: FindingRecord;
  /** Unique across the runs of one store: the record's id, prefixed with the run's for an embedded run. */
  key: string;
  dir: string;
  /** The reproducer's path, when one is stored. */
  reproPath: string | null;
  /** finding.json fields this build does not know, as stored (shown, never interpreted). */
  extra: Record<string, unknown>;
}

export interface StoredRun {
  /** The run's name: its directory name (embedded) or the campaign id (cluster). */
  id: string;
  kind: 'embedded' | 'cluster';
  dir: string;
  /** campaign.json as stored (null when the run has none yet). */
  campaign: Record<string, unknown> | null;
  findings: StoredFinding[];
  /** What did not read, as `path: why`. */
  bad: string[];
}

/** The record fields this build reads (record.ts), and the ones older stores carry; any other field is extra. */
const KNOWN_FIELDS = new Set([
  'id', 'signature', 'invariant', 'kind', 'message', 'count', 'firstExec', 'firstSec', 'lastExec', 'lastSec', 'finderWorkerId',
  'verified', 'verifiedBy', 'verifyAttempts', 'verifyJob', 'minimized', 'minimizeJob', 'minimizeError', 'opsBefore', 'opsAfter', 'repro', 'kernel', 'twin',
  'switches',
]);

/** A number stored JSON holds, or undefined for anything else. */
export function finiteNumber(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The campaign's switches as campaign.json names them (unknown names dropped). */
function bugsOf(campaign: Record<string, unknown> | null): BugName[] {
  const names = Array.isArray(campaign?.['bugs']) ? (campaign['bugs'] as unknown[]) : [];
  return BUG_SWITCHES.filter((b) => names.includes(b.name)).map((b) => b.name);
}

/** A run's id: its directory's name; ids go into URLs, so anything but [A-Za-z0-9._-] becomes '_'. */
export function runId(dir: string): string {
  return basename(dir).replace(/[^A-Za-z0-9._-]/g, '_');
}

/** One run's store: its campaign.json and its findings. */
export function readRun(dir: string, kind: StoredRun['kind']): StoredRun {
  const id = runId(dir);
  const bad: string[] = [];
  let campaign: Record<string, unknown> | null = null;
  try {
    if (existsSync(join(dir, 'campaign.json'))) campaign = readJson(join(dir, 'campaign.json')) as Record<string, unknown>;
  } catch (err) {
    bad.push(`${dir}/campaign.json: ${err instanceof Error ? err.message : String(err)}`);
  }
  const findings: StoredFinding[] = [];
  if (isDir(join(dir, 'findings'))) {
    const store = new Store(dir);
    const prefix = kind === 'cluster' ? `${id}-` : '';
    for (const f of new FindingFiles(store, bugsOf(campaign)).loadAll(prefix, bad)) {
      const sha = f.record.id.slice(prefix.length);
      const fdir = join(dir, 'findings', sha);
      const raw = readJson(join(fdir, 'finding.json')) as Record<string, unknown>;
      const extra = Object.fromEntries(Object.entries(raw).filter(([k]) => !KNOWN_FIELDS.has(k)));
      const repro = join(fdir, 'repro.json');
      findings.push({
        record: f.record, key: kind === 'cluster' ? f.record.id : `${id}-${sha}`, dir: fdir,
        reproPath: existsSync(repro) ? repro : null, extra,
      });
    }
  }
  findings.sort((a, b) => a.record.firstSec - b.record.firstSec || a.key.localeCompare(b.key));
  return { id, kind, dir, campaign, findings, bad };
}

const isRunDir = (dir: string): boolean => existsSync(join(dir, 'campaign.json')) || isDir(join(dir, 'findings'));

/** The run directories under a store, newest last: DIR itself, DIR/run-<n>, DIR/campaigns/<id>. */
export function runDirs(root: string): { dir: string; kind: StoredRun['kind'] }[] {
  if (!isDir(root)) throw new ProgramInputError(`--store: ${root} is not a directory`);
  const out: { dir: string; kind: StoredRun['kind'] }[] = [];
  if (isRunDir(root)) out.push({ dir: root, kind: 'embedded' });
  const runs = readdirSync(root).filter((n) => /^run-\d+$/.test(n)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  for (const n of runs) if (isRunDir(join(root, n))) out.push({ dir: join(root, n), kind: 'embedded' });
  const campaigns = join(root, 'campaigns');
  if (isDir(campaigns)) {
    for (const n of readdirSync(campaigns).sort()) if (isDir(join(campaigns, n))) out.push({ dir: join(campaigns, n), kind: 'cluster' });
  }
  return out;
}

/** Every run a store holds. */
export function readStore(root: string): StoredRun[] {
  return runDirs(root).map((r) => readRun(r.dir, r.kind));
}

/** A stored reproducer, parsed, with what a real kernel said of it (its exports quote that). */
export function readRepro(f: StoredFinding): Repro {
  if (f.reproPath === null) throw new ProgramInputError(`finding ${f.key} has no reproducer stored`);
  const r = parseRepro(readFileSync(f.reproPath, 'utf8'), f.reproPath);
  if (f.record.kernel) r.kernel = f.record.kernel;
  return r;
}

// What is worked out from a reproducer by running it (the switches it needs,
// its trace, the formats it exports to) takes runs of it, which a page must
// not repeat on every view: remembered per reproducer file and version (a
// minimized reproducer replaces the first one), per question.
const memo = new Map<string, { stamp: string; value: unknown }>();

/** `compute` of a stored finding's reproducer, remembered while the file stays the same; null without one. */
export function fromRepro<T>(f: StoredFinding, question: string, compute: (r: Repro) => T): T | null {
  if (f.reproPath === null) return null;
  try {
    const st = statSync(f.reproPath);
    const stamp = `${st.mtimeMs}:${st.size}`;
    const key = `${question}\0${f.reproPath}`;
    const seen = memo.get(key);
    if (seen?.stamp === stamp) return seen.value as T;
    const value = compute(readRepro(f));
    memo.set(key, { stamp, value });
    return value;
  } catch {
    return null;
  }
}

/** Which switches a stored finding's reproducer needs; null when it has none stored or it does not read. */
export function storedSwitchesNeeded(f: StoredFinding): SwitchesNeeded | null {
  return fromRepro(f, 'switches', switchesNeeded);
}

// The dashboard of a store on disk (`foliofuzz dashboard --store DIR`): the
// runs it holds, as their campaign.json last said, read again on every page.
// Nothing runs, so no page refreshes and there are no workers.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HistorySample } from '../../worker/fuzz/campaign.js';
import type { CampaignView, DashboardSource } from './model.js';
import { type StoredRun, finiteNumber, readRun, runDirs } from './stored.js';

const num = finiteNumber;

function history(x: unknown): HistorySample[] {
  if (!Array.isArray(x)) return [];
  return x.filter((s): s is HistorySample => typeof s === 'object' && s !== null && ['sec', 'execs', 'corpus', 'coverage', 'findings'].every((k) => num((s as Record<string, unknown>)[k]) !== undefined));
}

function corpusFiles(dir: string): number {
  try {
    return readdirSync(join(dir, 'corpus')).filter((n) => n.endsWith('.json')).length;
  } catch {
    return 0;
  }
}

/**
 * A run as its campaign.json says. The two kinds name their counters
 * differently: an embedded run's durationSec is the time it ran (and
 * durationLimitSec its limit), a cluster campaign's durationSec is its limit
 * (and elapsedSec the time it ran); a cluster campaign keeps no coverage count.
 */
export function storedView(run: StoredRun): CampaignView {
  const c = run.campaign ?? {};
  const embedded = run.kind === 'embedded';
  const elapsedSec = num(embedded ? c['durationSec'] : c['elapsedSec']) ?? 0;
  const limit = num(embedded ? c['durationLimitSec'] : c['durationSec']);
  const execs = num(c['execs']) ?? 0;
  const coverage = embedded ? num(c['coverage']) : undefined;
  const bugs = Array.isArray(c['bugs']) ? (c['bugs'] as unknown[]).filter((b): b is string => typeof b === 'string') : [];
  const startedAt = typeof c['startedAt'] === 'string' ? c['startedAt'] : typeof c['createdAt'] === 'string' ? c['createdAt'] : undefined;
  const seed = num(c['seed']);
  return {
    id: run.id, name: typeof c['name'] === 'string' ? c['name'] : run.id, kind: run.kind,
    state: typeof c['state'] === 'string' ? c['state'] : run.campaign ? 'done' : 'unknown', live: false, bugs,
    ...(seed !== undefined ? { seed } : {}), ...(startedAt !== undefined ? { startedAt } : {}), ...(limit !== undefined ? { durationLimitSec: limit } : {}),
    elapsedSec, execs, execsPerSec: num(c['execsPerSec']) ?? (elapsedSec > 0 ? execs / elapsedSec : 0),
    corpus: embedded ? num(c['corpus']) ?? corpusFiles(run.dir) : corpusFiles(run.dir), ...(coverage !== undefined ? { coverage } : {}),
    findings: run.findings.filter((f) => f.record.verified).length, history: history(c['history']),
  };
}

export function storeSource(root: string): DashboardSource {
  const runs = (): StoredRun[] => runDirs(root).map((r) => readRun(r.dir, r.kind));
  return {
    title: `store ${root}`,
    campaigns: () => runs().map(storedView),
    run: (id) => runs().find((r) => r.id === id) ?? null,
    workers: () => null,
  };
}

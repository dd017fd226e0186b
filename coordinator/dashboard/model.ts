// What the dashboard shows, whoever serves it: a coordinator (its campaigns
// and workers), an embedded campaign (`fuzz --http`: one campaign, its worker
// threads) or a store on disk (`foliofuzz dashboard`: the runs it holds).
// Each of those is a DashboardSource; the pages (pages.ts) know only this.

import type { HistorySample } from '../../worker/fuzz/campaign.js';
import type { StoredFinding, StoredRun } from './stored.js';

export type { HistorySample };

export interface CampaignView {
  id: string;
  name: string;
  kind: 'embedded' | 'cluster';
  /** running, minimizing (fuzzing stopped, minimizations pending), stopped, done, or unknown (a store without counters). */
  state: string;
  /** Still changing: pages showing it refresh themselves. */
  live: boolean;
  bugs: string[];
  seed?: number;
  /** ISO-8601 wall time of its start. */
  startedAt?: string;
  /** The limit it was given (unset: none). */
  durationLimitSec?: number;
  elapsedSec: number;
  execs: number;
  execsPerSec: number;
  corpus: number;
  /** Unset where it is not known (a cluster campaign read from its store). */
  coverage?: number;
  findings: number;
  /** Worker processes (cluster) or threads (embedded) working for it. */
  workers?: number;
  /** Where its kernel confirmations stand, in words (a cluster campaign that asks for them). */
  kernelConfirm?: string;
  history: readonly HistorySample[];
}

export interface WorkerView {
  id: string;
  /** Host and pid (cluster) or "this process" (embedded). */
  where: string;
  state: string;
  /** Executor threads (cluster workers). */
  procs?: number;
  execs: number;
  /** What it runs now: batches, jobs, or the signature it minimizes. */
  running: string[];
  campaigns: string[];
  /** Seconds since the process started (cluster). */
  uptimeSec?: number;
}

export interface DashboardSource {
  /** What serves it, for the page header: "coordinator", "embedded campaign", "store DIR". */
  title: string;
  campaigns(): CampaignView[];
  /** A campaign's stored run (its findings); null when it has none. */
  run(campaignId: string): StoredRun | null;
  /** The workers, or null where there are none to show (a store on disk). */
  workers(): WorkerView[] | null;
}

/** A finding by its key, with its campaign; null when none has that key. */
export function findFinding(src: DashboardSource, key: string): { campaign: CampaignView; run: StoredRun; finding: StoredFinding } | null {
  for (const campaign of src.campaigns()) {
    if (!key.startsWith(`${campaign.id}-`)) continue;
    const run = src.run(campaign.id);
    const finding = run?.findings.find((f) => f.key === key);
    if (run && finding) return { campaign, run, finding };
  }
  return null;
}

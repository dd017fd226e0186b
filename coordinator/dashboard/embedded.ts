// The dashboard of an embedded campaign (`fuzz --http`): one campaign, live
// from the campaign's handle, its findings from its store as they are
// written, its worker threads. Served by the coordinator's HTTP side without
// a registry (no /metrics) and ready at once.

import type { CampaignHandle, CampaignOptions } from '../../worker/fuzz/campaign.js';
import type { Repro } from '../../worker/repro/repro.js';
import { ApiError } from '../api.js';
import { startHttpServer } from '../http-server.js';
import { dashboard } from './handler.js';
import { type CampaignView, type DashboardSource, findFinding } from './model.js';
import { readRepro, readRun, runId } from './stored.js';

export function embeddedSource(campaign: CampaignHandle, opts: CampaignOptions & { storeDir: string }): DashboardSource {
  const id = runId(opts.storeDir);
  const view = (): CampaignView => {
    const s = campaign.stats();
    const phase = campaign.phase();
    return {
      id, name: id, kind: 'embedded', state: phase, live: phase !== 'done', bugs: [...opts.bugs], seed: opts.seed, startedAt: campaign.startedAt,
      ...(opts.durationSec !== undefined ? { durationLimitSec: opts.durationSec } : {}),
      elapsedSec: s.durationSec, execs: s.execs, execsPerSec: s.execsPerSec, corpus: s.corpus, coverage: s.coverage, findings: s.findings,
      workers: opts.workers, history: campaign.history(),
    };
  };
  return {
    title: `embedded campaign, store ${opts.storeDir}`,
    campaigns: () => [view()],
    run: (campaignId) => (campaignId === id ? readRun(opts.storeDir, 'embedded') : null),
    workers: () => campaign.workers().map((w) => ({
      id: w.name, where: 'this process', state: w.state, execs: w.execs, running: w.minimizing ? [`minimizing ${w.minimizing}`] : [], campaigns: [id],
    })),
  };
}

/** A reproducer by its finding's key, as the download route asks for it. */
export function reproByKey(src: DashboardSource, key: string): Repro {
  const found = findFinding(src, key);
  if (!found) throw new ApiError('NOT_FOUND', `no finding ${key}`);
  return readRepro(found.finding);
}

export interface DashboardServer {
  url: string;
  close: () => Promise<void>;
}

/** Serve a dashboard source (downloads included) on HOST:PORT. */
export async function serveDashboard(src: DashboardSource, o: { address: string; token?: string }): Promise<DashboardServer> {
  const h = await startHttpServer({ getRepro: (key) => reproByKey(src, key), ready: () => true }, {
    address: o.address, dashboard: dashboard(src), ...(o.token !== undefined ? { token: o.token } : {}),
  });
  const host = o.address.replace(/:\d+$/, '');
  return { url: `http://${host === '0.0.0.0' || host === '' ? '127.0.0.1' : host}:${h.port}/`, close: h.close };
}

export function serveEmbeddedDashboard(campaign: CampaignHandle, opts: CampaignOptions & { storeDir: string }, o: { address: string; token?: string }): Promise<DashboardServer> {
  return serveDashboard(embeddedSource(campaign, opts), o);
}

// The dashboard of a cluster coordinator: its campaigns as the API gives
// them, a history of their counters sampled here while the coordinator runs
// (for the charts; it starts again with the process), their findings from
// the campaigns' stores, and the workers from their heartbeats.

import { join } from 'node:path';
import type { Heartbeat } from '../../worker/cluster/wire.js';
import { type HistorySample, addSample } from '../../worker/fuzz/campaign.js';
import type { CoordinatorApi } from '../api.js';
import type { CampaignView, DashboardSource, WorkerView } from './model.js';
import { readRun } from './stored.js';

const SAMPLE_MS = 5000;

export interface CoordinatorSource extends DashboardSource {
  /** Stop sampling. */
  close(): void;
}

function workerView(hb: Heartbeat): WorkerView {
  return {
    id: hb.workerId, where: `${hb.host} pid ${hb.pid}`, state: hb.busy > 0 ? 'busy' : 'idle', procs: hb.procs,
    execs: hb.execs, running: [...hb.running], campaigns: [...hb.campaigns], uptimeSec: hb.uptimeSec,
  };
}

export function coordinatorSource(api: CoordinatorApi, storeDir: string, workers: () => Heartbeat[]): CoordinatorSource {
  const histories = new Map<string, HistorySample[]>();
  const sample = (): void => {
    for (const c of api.listCampaigns()) {
      let h = histories.get(c.id);
      if (!h) histories.set(c.id, (h = []));
      const last = h[h.length - 1];
      if (last && last.sec === c.elapsedSec && last.execs === c.execs) continue;
      addSample(h, { sec: c.elapsedSec, execs: c.execs, corpus: c.corpus, coverage: c.coverage, findings: c.findings });
    }
  };
  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  const view = (c: ReturnType<CoordinatorApi['listCampaigns']>[number]): CampaignView => ({
    id: c.id, name: c.name, kind: 'cluster', state: c.state, live: c.state === 'running', bugs: [...c.bugs], startedAt: c.createdAt,
    ...(c.durationSec !== undefined ? { durationLimitSec: c.durationSec } : {}),
    elapsedSec: c.elapsedSec, execs: c.execs, execsPerSec: c.execsPerSec, corpus: c.corpus, coverage: c.coverage, findings: c.findings,
    workers: c.workers, history: histories.get(c.id) ?? [], ...(c.kernelConfirm ? { kernelConfirm: c.kernelConfirm.status } : {}),
  });
  return {
    title: 'coordinator',
    campaigns: () => {
      sample();
      return api.listCampaigns().map(view);
    },
    run: (id) => (api.listCampaigns().some((c) => c.id === id) ? readRun(join(storeDir, 'campaigns', id), 'cluster') : null),
    // Connected workers only: each was heard from in the last 5 s.
    workers: () => workers().map(workerView),
    close: () => clearInterval(timer),
  };
}

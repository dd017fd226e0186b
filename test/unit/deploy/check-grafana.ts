// Grafana as compose runs it: provisioning mounted from deploy/grafana, the
// datasource reaching the Prometheus service, the dashboard provider's path
// holding the dashboards, and each dashboard's queries using exported metrics
// through a provisioned datasource.

import { posix } from 'node:path';
import { FUZZ_METRICS, type MetricSpec } from './contract.js';
import { type Service, byRole, environment, resolveMount } from './compose-model.js';
import { arr, get, isObj, str } from './json.js';
import { type DeployTree, filesUnder, firstDoc } from './load.js';
import { checkQuery } from './promql.js';

const PROVISIONING = '/etc/grafana/provisioning';

/** Metrics the dashboard must show (issue 5's panels). */
const REQUIRED_SERIES = [...FUZZ_METRICS.map((m) => m.name), 'process_cpu_seconds_total', 'process_resident_memory_bytes'];

interface Panel {
  at: string;
  raw: Record<string, unknown>;
}

function panels(list: unknown, at: string): Panel[] {
  return arr(list).flatMap((p, i) => {
    if (!isObj(p)) return [];
    const here = `${at}[${i}]`;
    return [{ at: here, raw: p }, ...panels(p['panels'], `${here}.panels`)];
  });
}

/** Check one dashboard document; returns the series its queries select. */
export function checkDashboard(doc: unknown, file: string, datasourceUids: Set<string>, metrics: readonly MetricSpec[], problems: string[]): Set<string> {
  const seen = new Set<string>();
  if (!isObj(doc)) {
    problems.push(`${file}: not a JSON object`);
    return seen;
  }
  if (str(doc['uid']) === undefined || str(doc['title']) === undefined) problems.push(`${file}: needs uid and title`);
  const ids = new Set<number>();
  const all = panels(doc['panels'], 'panels');
  if (all.length === 0) problems.push(`${file}: no panels`);
  for (const { at, raw } of all) {
    const id = raw['id'];
    if (typeof id !== 'number' || !Number.isInteger(id)) problems.push(`${file}: ${at}: id ${String(id)} is not an integer`);
    else if (ids.has(id)) problems.push(`${file}: ${at}: panel id ${id} is used twice`);
    else ids.add(id);
    const grid = raw['gridPos'];
    const [x, w] = [Number(get(grid, 'x')), Number(get(grid, 'w'))];
    if (!isObj(grid) || !(x >= 0 && w > 0 && x + w <= 24)) problems.push(`${file}: ${at}: gridPos outside the 24 columns`);
    if (raw['type'] === 'row') continue;
    const checkDs = (ds: unknown, where: string): void => {
      const uid = str(get(ds, 'uid'));
      if (uid === undefined || !datasourceUids.has(uid)) problems.push(`${file}: ${where}: datasource uid ${String(uid)} is not provisioned (${[...datasourceUids].join(', ')})`);
    };
    checkDs(raw['datasource'], at);
    const targets = arr(raw['targets']);
    if (targets.length === 0) problems.push(`${file}: ${at} (${String(raw['title'])}): no queries`);
    for (const [j, t] of targets.entries()) {
      checkDs(get(t, 'datasource') ?? raw['datasource'], `${at}.targets[${j}]`);
      const expr = str(get(t, 'expr'));
      if (expr === undefined) {
        problems.push(`${file}: ${at}.targets[${j}]: no expr`);
        continue;
      }
      const report = checkQuery(expr, metrics);
      for (const p of report.problems) problems.push(`${file}: ${at}.targets[${j}] ${JSON.stringify(expr)}: ${p}`);
      for (const s of report.series) seen.add(s.replace(/_(bucket|sum|count)$/, ''));
    }
  }
  for (const v of arr(get(doc, 'templating', 'list'))) {
    if (get(v, 'type') === 'query') {
      const uid = str(get(v, 'datasource', 'uid'));
      if (uid === undefined || !datasourceUids.has(uid)) problems.push(`${file}: templating ${String(get(v, 'name'))}: datasource uid ${String(uid)} is not provisioned`);
    }
  }
  return seen;
}

export function checkGrafana(tree: DeployTree, services: Map<string, Service>, metrics: readonly MetricSpec[], problems: string[]): void {
  const grafana = byRole(services, 'grafana')[0];
  if (grafana === undefined) return;
  const prov = resolveMount(grafana, PROVISIONING);
  if (prov?.mount.type !== 'bind') {
    problems.push(`grafana: ${PROVISIONING} is not mounted from deploy/`);
    return;
  }
  const uids = new Set<string>();
  for (const file of filesUnder(tree, posix.join(prov.path, 'datasources'))) {
    for (const [i, ds] of arr(get(firstDoc(tree, file), 'datasources')).entries()) {
      const at = `${file}: datasources[${i}]`;
      const uid = str(get(ds, 'uid'));
      if (uid === undefined) problems.push(`${at}: needs a uid for the dashboards to reference`);
      else uids.add(uid);
      let url: URL | undefined;
      try {
        url = new URL(str(get(ds, 'url')) ?? '');
      } catch {
        problems.push(`${at}: url is not a URL`);
      }
      const target = url === undefined ? undefined : services.get(url.hostname);
      if (url !== undefined && (target?.role !== 'prometheus' || !target.listens.has(Number(url.port || 80)))) {
        problems.push(`${at}: ${url.href} is not the Prometheus service's port`);
      }
    }
  }
  if (uids.size === 0) problems.push(`grafana: no datasource provisioned under ${prov.path}/datasources`);
  const provisioned = new Set<string>();
  for (const file of filesUnder(tree, posix.join(prov.path, 'dashboards'))) {
    for (const [i, p] of arr(get(firstDoc(tree, file), 'providers')).entries()) {
      const path = str(get(p, 'options', 'path')) ?? '';
      const dir = resolveMount(grafana, path);
      const found = dir?.mount.type === 'bind' ? filesUnder(tree, dir.path).filter((f) => f.endsWith('.json')) : [];
      if (found.length === 0) problems.push(`${file}: providers[${i}]: options.path ${path} holds no dashboard as mounted`);
      for (const f of found) provisioned.add(f);
    }
  }
  const home = environment(grafana.raw).get('GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH');
  if (home !== undefined) {
    const r = resolveMount(grafana, home);
    if (r === undefined || !provisioned.has(r.path)) problems.push(`grafana: the home dashboard ${home} is not a provisioned dashboard file`);
  }
  for (const f of filesUnder(tree, 'deploy/grafana/dashboards')) if (!provisioned.has(f)) problems.push(`${f}: not reached by any dashboard provider`);
  const seen = new Set<string>();
  for (const f of provisioned) for (const s of checkDashboard(firstDoc(tree, f), f, uids, metrics, problems)) seen.add(s);
  for (const m of REQUIRED_SERIES) if (!seen.has(m)) problems.push(`grafana: no dashboard panel shows ${m}`);
}

// deploy/prometheus/prometheus.yml (as the compose Prometheus mounts it): every
// target is a service port that serves /metrics, and every foliofuzz process
// is scraped, scaled workers through DNS discovery.

import { parseHostPort } from './cli-args.js';
import { type Service, byRole, commandFlag, resolveMount } from './compose-model.js';
import { arr, get, obj, str } from './json.js';
import { type DeployTree, firstDoc } from './load.js';

/** Ports of a service that serve Prometheus metrics. */
function metricsPorts(svc: Service): number[] {
  const what = svc.role === 'prometheus' ? ['web'] : ['http', 'metrics'];
  return [...svc.listens].filter(([, w]) => what.includes(w)).map(([p]) => p);
}

export function checkPrometheus(tree: DeployTree, services: Map<string, Service>, problems: string[]): void {
  const prom = byRole(services, 'prometheus')[0];
  if (prom === undefined) return;
  const configPath = commandFlag(prom.raw['command'], '--config.file') ?? '/etc/prometheus/prometheus.yml';
  const resolved = resolveMount(prom, configPath);
  if (resolved?.mount.type !== 'bind' || !tree.files.has(resolved.path)) {
    problems.push(`prometheus: ${configPath} is not mounted from a file under deploy/`);
    return;
  }
  const file = resolved.path;
  const doc = firstDoc(tree, file);
  /** service -> how it is scraped */
  const scraped = new Map<string, 'static' | 'dns'>();
  const jobs = new Set<string>();
  for (const [i, sc] of arr(get(doc, 'scrape_configs')).entries()) {
    const job = str(get(sc, 'job_name')) ?? '';
    const at = `${file}: scrape_configs[${i}] (${job})`;
    if (job === '' || jobs.has(job)) problems.push(`${at}: job_name missing or repeated`);
    jobs.add(job);
    const path = str(get(sc, 'metrics_path')) ?? '/metrics';
    if (path !== '/metrics') problems.push(`${at}: metrics_path ${path}; the processes serve /metrics`);
    const target = (host: string, port: number, how: 'static' | 'dns'): void => {
      const svc = host === 'localhost' ? prom : services.get(host);
      if (svc === undefined) return void problems.push(`${at}: ${host} is no compose service`);
      if (!metricsPorts(svc).includes(port)) return void problems.push(`${at}: ${svc.name} serves metrics on ${metricsPorts(svc).join(', ') || 'no port'}, not ${port}`);
      scraped.set(svc.name, how);
    };
    for (const sc2 of arr(get(sc, 'static_configs'))) {
      for (const t of arr(get(sc2, 'targets')).map(String)) {
        const hp = parseHostPort(t);
        if (hp === undefined) problems.push(`${at}: target ${t} is not HOST:PORT`);
        else target(hp.host, hp.port, 'static');
      }
    }
    for (const dns of arr(get(sc, 'dns_sd_configs'))) {
      if (str(get(dns, 'type')) !== 'A') problems.push(`${at}: dns_sd_configs needs type: A (Docker's DNS has no SRV records)`);
      const port = Number(obj(dns)['port']);
      for (const name of arr(get(dns, 'names')).map(String)) target(name, port, 'dns');
    }
  }
  for (const svc of byRole(services, 'foliofuzz')) {
    const how = scraped.get(svc.name);
    if (how === undefined) problems.push(`${file}: foliofuzz service ${svc.name} is not scraped`);
    else if (svc.cli?.subcommand === 'worker' && how !== 'dns') problems.push(`${file}: ${svc.name} is scraped by a static target, which reaches one replica; use dns_sd_configs`);
  }
}

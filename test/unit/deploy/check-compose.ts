// deploy/docker-compose.yml: every reference between services, volumes, files
// and ports resolves, and the foliofuzz commands are the CLI.

import { posix } from 'node:path';
import { flagPort, parseNatsUrl } from './cli-args.js';
import { PORTS } from './contract.js';
import { COMPOSE, type Service, byRole, commandFlag, composeServices } from './compose-model.js';
import { arr, get, isObj, obj, str } from './json.js';
import { type DeployTree, firstDoc, pathExists } from './load.js';

function dependsOn(svc: Service): Map<string, string> {
  const dep = svc.raw['depends_on'];
  const out = new Map<string, string>();
  if (Array.isArray(dep)) for (const d of dep) out.set(String(d), 'service_started');
  else for (const [k, v] of Object.entries(obj(dep))) out.set(k, str(get(v, 'condition')) ?? 'service_started');
  return out;
}

/** Container port of a `ports` entry ("127.0.0.1:8080:8080", "8080", {target: 8080}). */
function containerPort(entry: unknown): number | undefined {
  if (isObj(entry)) return Number(entry['target']);
  const parts = String(entry).split('/')[0]?.split(':') ?? [];
  return Number(parts[parts.length - 1]);
}

function checkService(svc: Service, services: Map<string, Service>, declaredVolumes: Set<string>, tree: DeployTree, problems: string[]): void {
  const at = `${COMPOSE}: services.${svc.name}`;
  for (const [target, condition] of dependsOn(svc)) {
    const dep = services.get(target);
    if (dep === undefined) problems.push(`${at}.depends_on: no service ${target}`);
    else if (condition === 'service_healthy' && dep.raw['healthcheck'] === undefined) problems.push(`${at}.depends_on: ${target} is waited on as healthy but has no healthcheck`);
  }
  for (const m of svc.mounts) {
    if (m.type === 'volume' && !declaredVolumes.has(m.source)) problems.push(`${at}.volumes: volume ${m.source} is not declared under volumes:`);
    if (m.type === 'bind' && !pathExists(tree, m.source)) problems.push(`${at}.volumes: bind source ${m.source} does not exist`);
  }
  if (svc.role !== 'other') {
    for (const p of arr(svc.raw['ports'])) {
      const port = containerPort(p);
      if (port === undefined || !svc.listens.has(port)) problems.push(`${at}.ports: ${String(p)} publishes container port ${port}, where nothing listens (${[...svc.listens.keys()].join(', ')})`);
    }
  }
  const build = svc.raw['build'];
  if (build !== undefined) {
    const context = posix.join(posix.dirname(COMPOSE), str(get(build, 'context')) ?? str(build) ?? '.');
    const dockerfile = posix.normalize(posix.join(context, str(get(build, 'dockerfile')) ?? 'Dockerfile'));
    if (!pathExists(tree, dockerfile)) problems.push(`${at}.build: ${dockerfile} does not exist`);
  }
  const nats = svc.cli?.flags.get('--nats');
  if (nats !== undefined) {
    const url = parseNatsUrl(nats);
    const server = url === undefined ? undefined : services.get(url.host);
    if (server?.role !== 'nats') problems.push(`${at}: --nats ${nats} names no NATS service`);
    else if (server.listens.get(url?.port ?? 0) !== 'client') problems.push(`${at}: --nats ${nats}: ${server.name} listens for clients on ${[...server.listens].filter(([, w]) => w === 'client').map(([p]) => p).join(', ')}`);
  }
}

function checkCoordinator(svc: Service, storeDirs: readonly string[], problems: string[]): void {
  const at = `${COMPOSE}: services.${svc.name}`;
  if (flagPort(svc.cli, '--grpc') !== PORTS.grpc) problems.push(`${at}: --grpc should listen on the conventional ${PORTS.grpc}`);
  const http = flagPort(svc.cli, '--http');
  if (http !== PORTS.http) problems.push(`${at}: --http should listen on the conventional ${PORTS.http}`);
  const store = svc.cli?.flags.get('--store');
  const mount = svc.mounts.find((m) => m.target === store);
  if (store !== undefined && mount?.type !== 'volume') problems.push(`${at}: --store ${store} is not on a named volume (the store would not survive the container)`);
  if (store !== undefined && !storeDirs.includes(store)) problems.push(`${at}: --store ${store} is not created in the image (the volume would be root-owned)`);
  const test = arr(get(svc.raw, 'healthcheck', 'test')).map(String).join(' ');
  if (!test.includes(`:${http}/healthz`)) problems.push(`${at}.healthcheck: should probe /healthz on the --http port ${http}`);
}

function checkWorker(svc: Service, problems: string[]): void {
  const at = `${COMPOSE}: services.${svc.name}`;
  if (svc.raw['container_name'] !== undefined) problems.push(`${at}: container_name prevents --scale ${svc.name}=N`);
  if (arr(svc.raw['ports']).length > 0) problems.push(`${at}: host ports collide when scaled (use expose)`);
  if (flagPort(svc.cli, '--metrics') !== PORTS.metrics) problems.push(`${at}: --metrics should listen on the conventional ${PORTS.metrics}`);
  const cpus = get(svc.raw, 'deploy', 'resources', 'limits', 'cpus');
  const procs = svc.cli?.flags.get('--procs');
  if (cpus !== undefined && procs !== undefined && Number(cpus) !== Number(procs)) problems.push(`${at}: --procs ${procs} but a CPU limit of ${String(cpus)}`);
}

function checkNats(svc: Service, problems: string[]): void {
  const at = `${COMPOSE}: services.${svc.name}`;
  const command = arr(svc.raw['command']).map(String);
  if (!command.includes('-js') && !command.includes('--jetstream')) problems.push(`${at}: JetStream is not enabled (-js)`);
  const dir = commandFlag(command, '-sd', '--store_dir');
  if (dir === undefined || svc.mounts.find((m) => m.target === dir)?.type !== 'volume') problems.push(`${at}: the JetStream store dir (-sd ${dir}) is not on a named volume`);
}

export function checkCompose(tree: DeployTree, storeDirs: readonly string[], problems: string[]): Map<string, Service> {
  const doc = firstDoc(tree, COMPOSE);
  const services = composeServices(doc, problems);
  const declared = new Set(Object.keys(obj(get(doc, 'volumes'))));
  for (const svc of services.values()) checkService(svc, services, declared, tree, problems);
  for (const v of declared) {
    if (![...services.values()].some((s) => s.mounts.some((m) => m.type === 'volume' && m.source === v))) problems.push(`${COMPOSE}: volume ${v} is declared but unused`);
  }
  const expect = (what: string, list: Service[]): void => {
    if (list.length !== 1) problems.push(`${COMPOSE}: expected one ${what} service, found ${list.length}`);
  };
  expect('nats', byRole(services, 'nats'));
  expect('coordinator', byRole(services, 'foliofuzz', 'coordinator'));
  expect('worker', byRole(services, 'foliofuzz', 'worker'));
  expect('prometheus', byRole(services, 'prometheus'));
  expect('grafana', byRole(services, 'grafana'));
  for (const s of byRole(services, 'nats')) checkNats(s, problems);
  for (const s of byRole(services, 'foliofuzz', 'coordinator')) checkCoordinator(s, storeDirs, problems);
  for (const s of byRole(services, 'foliofuzz', 'worker')) checkWorker(s, problems);
  return services;
}

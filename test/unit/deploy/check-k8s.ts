// deploy/k8s: selectors select, named ports exist, monitors reach the metrics
// ports, volumes and secrets referenced are declared, the NATS chart values
// give the URL the processes use, and kustomization lists every manifest.

import { posix } from 'node:path';
import { type ParsedArgs, checkCliArgs, flagPort, parseNatsUrl } from './cli-args.js';
import { PORTS } from './contract.js';
import { arr, get, isObj, type Obj, labelsMatch, obj, str, strMap } from './json.js';
import { type DeployTree, filesUnder, firstDoc } from './load.js';

export const K8S = 'deploy/k8s';
export const KUSTOMIZATION = `${K8S}/kustomization.yaml`;
export const NATS_VALUES = `${K8S}/nats-values.yaml`;

interface Manifest {
  file: string;
  kind: string;
  name: string;
  doc: Obj;
}

interface Container {
  name: string;
  raw: Obj;
  cli?: ParsedArgs;
  /** port name -> number */
  ports: Map<string, number>;
}

interface Workload {
  m: Manifest;
  labels: Map<string, string>;
  containers: Container[];
  volumes: Set<string>;
  claimTemplates: Set<string>;
}

function manifests(tree: DeployTree): Manifest[] {
  const out: Manifest[] = [];
  for (const file of filesUnder(tree, K8S)) {
    if (file === KUSTOMIZATION) continue;
    for (const doc of tree.files.get(file)?.docs ?? []) {
      if (!isObj(doc) || typeof doc['kind'] !== 'string' || typeof doc['apiVersion'] !== 'string') continue;
      out.push({ file, kind: doc['kind'], name: str(get(doc, 'metadata', 'name')) ?? '', doc });
    }
  }
  return out;
}

/** CPU quantity in cores ("2", "500m", "1.5"). */
export function cpuCores(q: unknown): number | undefined {
  const s = String(q);
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(s);
  return m === null ? undefined : Number(m[1]) / (m[2] === 'm' ? 1000 : 1);
}

function workload(m: Manifest, problems: string[]): Workload {
  const at = `${m.file}: ${m.kind}/${m.name}`;
  const spec = obj(m.doc['spec']);
  const labels = strMap(get(spec, 'template', 'metadata', 'labels'));
  if (!labelsMatch(strMap(get(spec, 'selector', 'matchLabels')), labels)) problems.push(`${at}: spec.selector.matchLabels does not match the pod template labels`);
  const podSpec = obj(get(spec, 'template', 'spec'));
  const containers: Container[] = arr(podSpec['containers']).map((c, i) => {
    const raw = obj(c);
    const name = str(raw['name']) ?? `#${i}`;
    const ports = new Map<string, number>();
    for (const p of arr(raw['ports'])) {
      const pn = str(get(p, 'name'));
      if (pn !== undefined) {
        if (ports.has(pn)) problems.push(`${at}: container ${name}: port name ${pn} used twice`);
        ports.set(pn, Number(get(p, 'containerPort')));
      }
    }
    const out: Container = { name, raw, ports };
    if (raw['command'] !== undefined) problems.push(`${at}: container ${name}: command overrides the image's CLI entrypoint (use args)`);
    const cli = checkCliArgs(raw['args'], `${at}: container ${name}: args`, problems);
    if (cli !== undefined) out.cli = cli;
    return out;
  });
  return {
    m, labels, containers,
    volumes: new Set(arr(podSpec['volumes']).map((v) => str(get(v, 'name')) ?? '')),
    claimTemplates: new Set(arr(spec['volumeClaimTemplates']).map((v) => str(get(v, 'metadata', 'name')) ?? '')),
  };
}

function secretHasKey(all: Manifest[], name: unknown, key: unknown): boolean {
  const secret = all.find((m) => m.kind === 'Secret' && m.name === name);
  return secret !== undefined && typeof key === 'string' && (key in obj(secret.doc['data']) || key in obj(secret.doc['stringData']));
}

function checkContainer(w: Workload, c: Container, all: Manifest[], nats: { host: string; port: number }, problems: string[]): void {
  const at = `${w.m.file}: ${w.m.kind}/${w.m.name}: container ${c.name}`;
  const env = arr(c.raw['env']);
  const envNames = new Set(env.map((e) => str(get(e, 'name')) ?? ''));
  for (const e of env) {
    const ref = get(e, 'valueFrom', 'secretKeyRef');
    if (ref !== undefined && !secretHasKey(all, get(ref, 'name'), get(ref, 'key'))) {
      problems.push(`${at}: env ${String(get(e, 'name'))}: no Secret ${String(get(ref, 'name'))} with key ${String(get(ref, 'key'))}`);
    }
  }
  for (const a of arr(c.raw['args']).map(String)) {
    for (const m of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) if (!envNames.has(m[1] ?? '')) problems.push(`${at}: args use $(${m[1]}), which is not in env`);
  }
  for (const vm of arr(c.raw['volumeMounts'])) {
    const name = str(get(vm, 'name')) ?? '';
    if (!w.volumes.has(name) && !w.claimTemplates.has(name)) problems.push(`${at}: volumeMount ${name} is not a declared volume or volumeClaimTemplate`);
  }
  const portNumbers = new Set(c.ports.values());
  // The coordinator answers probes on --http, a worker on --metrics.
  const probeFlag = flagPort(c.cli, '--http') !== undefined ? '--http' : '--metrics';
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const port: unknown = get(c.raw, probe, 'httpGet', 'port');
    if (port === undefined) continue;
    if (typeof port === 'string' ? !c.ports.has(port) : !portNumbers.has(Number(port))) problems.push(`${at}: ${probe} port ${String(port)} is not a container port`);
    if (c.cli !== undefined && (typeof port === 'string' ? c.ports.get(port) : Number(port)) !== flagPort(c.cli, probeFlag)) problems.push(`${at}: ${probe} does not probe the ${probeFlag} port`);
  }
  if (c.cli !== undefined && flagPort(c.cli, probeFlag) !== undefined) {
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']] as const) {
      if (get(c.raw, probe, 'httpGet', 'path') !== path) problems.push(`${at}: no ${probe} on ${path}`);
    }
  }
  if (c.cli === undefined) return;
  for (const [flag, name, conventional] of [['--grpc', 'grpc', PORTS.grpc], ['--http', 'http', PORTS.http], ['--metrics', 'metrics', PORTS.metrics]] as const) {
    const port = flagPort(c.cli, flag);
    if (port === undefined) continue;
    if (c.ports.get(name) !== port) problems.push(`${at}: ${flag} listens on ${port}, but container port "${name}" is ${c.ports.get(name)}`);
    if (port !== conventional) problems.push(`${at}: ${flag} should use the conventional port ${conventional}`);
  }
  const natsFlag = c.cli.flags.get('--nats') ?? '';
  const url = parseNatsUrl(natsFlag);
  if (url === undefined || url.host !== nats.host || url.port !== nats.port) problems.push(`${at}: --nats ${natsFlag}, but the NATS chart serves nats://${nats.host}:${nats.port}`);
  const store = c.cli.flags.get('--store');
  if (store !== undefined) {
    const mount = arr(c.raw['volumeMounts']).find((vm) => get(vm, 'mountPath') === store);
    if (mount === undefined || !w.claimTemplates.has(str(get(mount, 'name')) ?? '')) problems.push(`${at}: --store ${store} is not on a volumeClaimTemplate volume`);
  }
  const procs = c.cli.flags.get('--procs');
  if (procs !== undefined) {
    const cpu = cpuCores(get(c.raw, 'resources', 'requests', 'cpu'));
    if (cpu !== Number(procs)) problems.push(`${at}: --procs ${procs} but a CPU request of ${String(cpu)}`);
  }
}

/** The NATS chart's client Service: fullnameOverride (else the release "nats") and config.nats.port. */
function natsEndpoint(tree: DeployTree, problems: string[]): { host: string; port: number } {
  const values = firstDoc(tree, NATS_VALUES);
  if (values === undefined) problems.push(`${NATS_VALUES}: missing`);
  if (get(values, 'config', 'jetstream', 'enabled') !== true) problems.push(`${NATS_VALUES}: config.jetstream.enabled must be true`);
  if (get(values, 'config', 'jetstream', 'fileStore', 'enabled') === false) problems.push(`${NATS_VALUES}: JetStream needs the file store`);
  if (get(values, 'config', 'jetstream', 'fileStore', 'pvc', 'enabled') === false) problems.push(`${NATS_VALUES}: the file store needs its PVC`);
  return { host: str(get(values, 'fullnameOverride')) ?? 'nats', port: Number(get(values, 'config', 'nats', 'port') ?? PORTS.nats) };
}

function checkKustomization(tree: DeployTree, all: Manifest[], workloads: Workload[], problems: string[]): void {
  const k = firstDoc(tree, KUSTOMIZATION);
  if (k === undefined) return void problems.push(`${KUSTOMIZATION}: missing`);
  const listed = new Set(arr(get(k, 'resources')).map((r) => posix.join(K8S, String(r))));
  for (const f of listed) if (!tree.files.has(f)) problems.push(`${KUSTOMIZATION}: resource ${f} does not exist`);
  for (const f of new Set(all.map((m) => m.file))) if (!listed.has(f)) problems.push(`${KUSTOMIZATION}: manifest ${f} is not listed in resources`);
  const ns = all.find((m) => m.kind === 'Namespace');
  if (ns !== undefined && get(k, 'namespace') !== ns.name) problems.push(`${KUSTOMIZATION}: namespace ${String(get(k, 'namespace'))} is not the Namespace ${ns.name}`);
  const images = new Set(arr(get(k, 'images')).map((i) => str(get(i, 'name')) ?? ''));
  for (const w of workloads) {
    for (const c of w.containers) {
      const image = str(c.raw['image']) ?? '';
      if (!images.has(image)) problems.push(`${KUSTOMIZATION}: images has no entry for ${image} (${w.m.kind}/${w.m.name})`);
    }
  }
}

export function checkK8s(tree: DeployTree, problems: string[]): void {
  const all = manifests(tree);
  const seen = new Set<string>();
  for (const m of all) {
    const key = `${m.kind}/${m.name}`;
    if (m.name === '' || seen.has(key)) problems.push(`${m.file}: ${key}: name missing or repeated`);
    seen.add(key);
  }
  const nats = natsEndpoint(tree, problems);
  const workloads = all.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet').map((m) => workload(m, problems));
  for (const w of workloads) for (const c of w.containers) checkContainer(w, c, all, nats, problems);
  const services = all.filter((m) => m.kind === 'Service');
  const selected = (svc: Manifest): Workload[] => workloads.filter((w) => labelsMatch(strMap(get(svc.doc, 'spec', 'selector')), w.labels));
  for (const svc of services) {
    const at = `${svc.file}: Service/${svc.name}`;
    const targets = selected(svc);
    if (targets.length === 0) problems.push(`${at}: selector selects no workload's pods`);
    for (const p of arr(get(svc.doc, 'spec', 'ports'))) {
      const tp: unknown = get(p, 'targetPort') ?? get(p, 'port');
      const ok = targets.some((w) => w.containers.some((c) => (typeof tp === 'string' ? c.ports.has(tp) : [...c.ports.values()].includes(Number(tp)))));
      if (!ok) problems.push(`${at}: targetPort ${String(tp)} is no container port of the selected pods`);
    }
  }
  for (const w of workloads.filter((x) => x.m.kind === 'StatefulSet')) {
    const name = get(w.m.doc, 'spec', 'serviceName');
    const svc = services.find((s) => s.name === name);
    if (svc === undefined) problems.push(`${w.m.file}: StatefulSet/${w.m.name}: serviceName ${String(name)} is no Service`);
    else if (!selected(svc).includes(w)) problems.push(`${w.m.file}: StatefulSet/${w.m.name}: its Service ${svc.name} does not select its pods`);
  }
  /** Workloads whose metrics some monitor scrapes. */
  const monitored = new Set<Workload>();
  for (const sm of all.filter((m) => m.kind === 'ServiceMonitor')) {
    const at = `${sm.file}: ServiceMonitor/${sm.name}`;
    const svcs = services.filter((s) => labelsMatch(strMap(get(sm.doc, 'spec', 'selector', 'matchLabels')), strMap(get(s.doc, 'metadata', 'labels'))));
    if (svcs.length === 0) problems.push(`${at}: selector matches no Service's labels`);
    for (const ep of arr(get(sm.doc, 'spec', 'endpoints'))) {
      const port = str(get(ep, 'port'));
      for (const svc of svcs) {
        const sp = arr(get(svc.doc, 'spec', 'ports')).find((p) => get(p, 'name') === port);
        if (sp === undefined) {
          problems.push(`${at}: Service ${svc.name} has no port named ${String(port)}`);
          continue;
        }
        for (const w of selected(svc)) {
          for (const c of w.containers) {
            const tp: unknown = get(sp, 'targetPort');
            const n = typeof tp === 'string' ? c.ports.get(tp) : Number(tp);
            if (n !== flagPort(c.cli, '--http')) problems.push(`${at}: port ${port} does not reach the --http port of ${w.m.name}`);
            else monitored.add(w);
          }
        }
      }
      const cred = get(ep, 'authorization', 'credentials') ?? get(ep, 'bearerTokenSecret');
      if (cred !== undefined && !secretHasKey(all, get(cred, 'name'), get(cred, 'key'))) problems.push(`${at}: no Secret ${String(get(cred, 'name'))} with key ${String(get(cred, 'key'))}`);
    }
  }
  for (const pm of all.filter((m) => m.kind === 'PodMonitor')) {
    const at = `${pm.file}: PodMonitor/${pm.name}`;
    const ws = workloads.filter((w) => labelsMatch(strMap(get(pm.doc, 'spec', 'selector', 'matchLabels')), w.labels));
    if (ws.length === 0) problems.push(`${at}: selector matches no workload's pod labels`);
    for (const ep of arr(get(pm.doc, 'spec', 'podMetricsEndpoints'))) {
      const port = str(get(ep, 'port')) ?? '';
      for (const w of ws) {
        for (const c of w.containers) {
          if (!c.ports.has(port)) problems.push(`${at}: ${w.m.name} has no container port named ${port}`);
          else if (c.ports.get(port) !== flagPort(c.cli, '--metrics')) problems.push(`${at}: port ${port} of ${w.m.name} is not its --metrics port`);
          else monitored.add(w);
        }
      }
    }
  }
  for (const w of workloads) {
    const serves = w.containers.some((c) => flagPort(c.cli, '--http') !== undefined || flagPort(c.cli, '--metrics') !== undefined);
    if (serves && !monitored.has(w)) problems.push(`${w.m.file}: ${w.m.kind}/${w.m.name}: serves metrics but no ServiceMonitor/PodMonitor scrapes it`);
  }
  checkKustomization(tree, all, workloads, problems);
}

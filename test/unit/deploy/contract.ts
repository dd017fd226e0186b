// What the deploy files must agree with: the processes' command line, the
// ports they listen on and the metrics they export (issue 5). The deploy
// checks compare every manifest against this one description.

import { Registry, collectDefaultMetrics } from 'prom-client';
import { CoordinatorMetrics } from '../../../coordinator/metrics.js';
import { WorkerMetrics } from '../../../worker/cluster/metrics.js';

/** How both connect to NATS (worker/cli/cluster-flags.ts). */
const NATS_AUTH_FLAGS = ['--nats-user', '--nats-password-file', '--nats-creds', '--nats-tls-ca', '--nats-tls-cert', '--nats-tls-key'];

/** The subcommands deploy/ runs, and their flags (every flag takes a value). */
export const CLI: Record<string, { required: readonly string[]; optional: readonly string[] }> = {
  coordinator: { required: ['--nats', '--grpc', '--http', '--store'], optional: ['--token', ...NATS_AUTH_FLAGS] },
  worker: { required: ['--nats'], optional: ['--procs', '--metrics', ...NATS_AUTH_FLAGS] },
};

/** The npm bin of the image's ENTRYPOINT, relative to the package root. */
export const CLI_ENTRY = 'dist/worker/cli/main.js';

/** Conventional ports, used by every deploy file. */
export const PORTS = { grpc: 50051, http: 8080, metrics: 9464, nats: 4222, natsMonitor: 8222, prometheus: 9090, grafana: 3000 } as const;

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  name: string;
  type: MetricType;
  labels: readonly string[];
}

/**
 * The foliofuzz metrics issue 5 names: the dashboard must show each of them,
 * and the coordinator must export each with this type and labels (checked
 * against its real registry in deploy.test.ts).
 */
export const FUZZ_METRICS: readonly MetricSpec[] = [
  { name: 'fuzz_execs_total', type: 'counter', labels: ['campaign'] },
  { name: 'fuzz_corpus_programs', type: 'gauge', labels: ['campaign'] },
  { name: 'fuzz_coverage_points', type: 'gauge', labels: ['campaign'] },
  { name: 'fuzz_findings_total', type: 'counter', labels: ['kind'] },
  { name: 'fuzz_unique_signatures', type: 'gauge', labels: ['campaign'] },
  { name: 'fuzz_minimize_queue_depth', type: 'gauge', labels: [] },
  { name: 'fuzz_minimize_duration_seconds', type: 'histogram', labels: [] },
  { name: 'fuzz_batch_duration_seconds', type: 'histogram', labels: [] },
  { name: 'fuzz_work_redelivered_total', type: 'counter', labels: [] },
  { name: 'fuzz_workers_connected', type: 'gauge', labels: [] },
];

/** Labels Prometheus attaches to every scraped series (static, DNS, Kubernetes discovery). */
export const TARGET_LABELS: readonly string[] = ['job', 'instance', 'namespace', 'pod', 'container', 'service', 'endpoint'];

/** prom-client's default metrics, read from prom-client itself. */
export async function defaultMetrics(): Promise<MetricSpec[]> {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const out = await registryMetrics(register);
  register.clear();
  return out;
}

/** Every metric the coordinator and a cluster worker export, from their real registries. */
export async function exportedMetrics(): Promise<{ coordinator: MetricSpec[]; worker: MetricSpec[] }> {
  const c = new CoordinatorMetrics();
  const w = new WorkerMetrics('deploy-test');
  const out = { coordinator: await registryMetrics(c.registry), worker: await registryMetrics(w.registry, ['worker']) };
  c.registry.clear();
  w.registry.clear();
  return out;
}

/** A registry's metrics as specs; `defaultLabels` are the ones setDefaultLabels adds to every series. */
async function registryMetrics(register: Registry, defaultLabels: readonly string[] = []): Promise<MetricSpec[]> {
  const out: MetricSpec[] = [];
  for (const m of await register.getMetricsAsJSON()) {
    const metric = register.getSingleMetric(m.name) as unknown as { labelNames?: readonly string[] } | undefined;
    const kind = String(m.type);
    const type = kind === 'counter' || kind === 'histogram' ? kind : 'gauge';
    out.push({ name: m.name, type, labels: [...(metric?.labelNames ?? []), ...defaultLabels] });
  }
  return out;
}

/** Series name -> its metric: histograms export _bucket (with le), _sum and _count. */
export function seriesIndex(metrics: readonly MetricSpec[]): Map<string, { metric: MetricSpec; labels: Set<string>; counterLike: boolean }> {
  const index = new Map<string, { metric: MetricSpec; labels: Set<string>; counterLike: boolean }>();
  for (const metric of metrics) {
    const base = new Set([...metric.labels, ...TARGET_LABELS]);
    if (metric.type === 'histogram') {
      index.set(`${metric.name}_bucket`, { metric, labels: new Set([...base, 'le']), counterLike: true });
      index.set(`${metric.name}_sum`, { metric, labels: base, counterLike: true });
      index.set(`${metric.name}_count`, { metric, labels: base, counterLike: true });
    } else {
      index.set(metric.name, { metric, labels: base, counterLike: metric.type === 'counter' });
    }
  }
  return index;
}

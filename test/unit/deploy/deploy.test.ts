// deploy/ (Dockerfile, compose, Prometheus, Grafana, Kubernetes) checked
// without a Docker engine or a cluster: every YAML and JSON file parses, and
// every reference between the files and to the processes' CLI, ports and
// metrics resolves. The last tests break one reference at a time in memory and
// show the checks catch it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkCompose } from './check-compose.js';
import { checkDockerfile, DOCKERFILE, dockerIgnored } from './check-dockerfile.js';
import { checkGrafana } from './check-grafana.js';
import { checkK8s, cpuCores, KUSTOMIZATION } from './check-k8s.js';
import { AUTH_CONF, checkNatsAuth } from './check-nats-auth.js';
import { isPlaceholderSecret } from '../../../worker/cli/cluster-flags.js';
import { checkPrometheus } from './check-prometheus.js';
import { checkCliArgs } from './cli-args.js';
import { COMPOSE } from './compose-model.js';
import { defaultMetrics, exportedMetrics, FUZZ_METRICS, type MetricSpec } from './contract.js';
import { arr, get, obj } from './json.js';
import { type DeployTree, loadDeployTree } from './load.js';
import { checkQuery } from './promql.js';

const tree = loadDeployTree();
const exported = await exportedMetrics();
/** What a query may name: whatever the coordinator or a worker really exports (labels merged per name). */
const metrics: MetricSpec[] = mergeSpecs([...exported.coordinator, ...exported.worker, ...(await defaultMetrics())]);

function mergeSpecs(specs: readonly MetricSpec[]): MetricSpec[] {
  const byName = new Map<string, MetricSpec>();
  for (const m of specs) {
    const seen = byName.get(m.name);
    byName.set(m.name, seen ? { ...seen, labels: [...new Set([...seen.labels, ...m.labels])] } : m);
  }
  return [...byName.values()];
}

const PROMETHEUS = 'deploy/prometheus/prometheus.yml';
const DASHBOARD = 'deploy/grafana/dashboards/foliofuzz.json';
const DASHBOARD_PROVIDER = 'deploy/grafana/provisioning/dashboards/foliofuzz.yml';

type Area = 'dockerfile' | 'compose' | 'prometheus' | 'grafana' | 'k8s' | 'nats';

/** Run every check; the problems, per area. */
function check(t: DeployTree): Record<Area, string[]> {
  const out: Record<Area, string[]> = { dockerfile: [], compose: [], prometheus: [], grafana: [], k8s: [], nats: [] };
  const facts = checkDockerfile(t, out.dockerfile);
  const services = checkCompose(t, facts.createdDirs, out.compose);
  checkPrometheus(t, services, out.prometheus);
  checkGrafana(t, services, metrics, out.grafana);
  checkK8s(t, out.k8s);
  checkNatsAuth(t, services, out.nats);
  return out;
}

const clean = check(tree);

/** The problems after `mutate` changed a copy of the tree. */
function broken(mutate: (t: DeployTree) => void): string[] {
  const copy = structuredClone(tree);
  mutate(copy);
  const all = check(copy);
  return Object.values(all).flat();
}

function doc(t: DeployTree, file: string, index = 0): Record<string, unknown> {
  const d = t.files.get(file)?.docs[index];
  assert.ok(d !== undefined, `${file} has no document ${index}`);
  return obj(d);
}

/** The document of a k8s file (one per file here). */
const k8s = (t: DeployTree, name: string): Record<string, unknown> => doc(t, `deploy/k8s/${name}`);

function assertCaught(problems: string[], pattern: RegExp): void {
  assert.ok(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got:\n${problems.join('\n') || '(none)'}`);
}

test('every YAML and JSON file under deploy/ parses', () => {
  const parsed = [...tree.files].filter(([, f]) => f.kind !== 'other');
  for (const required of [COMPOSE, PROMETHEUS, DASHBOARD, DASHBOARD_PROVIDER, KUSTOMIZATION]) assert.ok(tree.files.has(required), required);
  assert.ok(parsed.length >= 10, `only ${parsed.length} YAML/JSON files under deploy/`);
  for (const [path, f] of parsed) {
    assert.deepEqual(f.errors, [], path);
    assert.ok(f.docs.length > 0 && f.docs.every((d) => d !== null && d !== undefined), `${path}: empty document`);
  }
});

test('Dockerfile: copies what exists and is not dockerignored, runs the npm bin as non-root', () => {
  assert.deepEqual(clean.dockerfile, []);
});

test('docker-compose: services, volumes, bind sources, ports and CLI flags resolve', () => {
  assert.deepEqual(clean.compose, []);
});

test('Prometheus scrapes the coordinator and every worker replica on their metrics ports', () => {
  assert.deepEqual(clean.prometheus, []);
});

test('Grafana: provisioned datasource and dashboard; every query uses exported metrics', () => {
  assert.deepEqual(clean.grafana, []);
});

test('Kubernetes: selectors, named ports, monitors, volumes, secrets, NATS values, kustomization', () => {
  assert.deepEqual(clean.k8s, []);
});

test('NATS: one user per role with exactly its permissions, in compose and Kubernetes; every process connects as its role', () => {
  assert.deepEqual(clean.nats, []);
});

test('the Secrets\' placeholders are refused by the processes (a forgotten step shows at once)', () => {
  const placeholders = ['token-secret.yaml', 'nats-secret.yaml'].flatMap((f) => Object.values(obj(k8s(tree, f)['stringData'])).map(String));
  assert.equal(placeholders.length, 3);
  for (const p of placeholders) assert.ok(isPlaceholderSecret(p), p);
  assert.ok(!isPlaceholderSecret('4f9c2a77d1e0b3c85a6e'));
});

test('the coordinator exports every metric of the contract, with its type and labels; workers agree on shared names', () => {
  for (const want of FUZZ_METRICS) {
    const got = exported.coordinator.find((m) => m.name === want.name);
    assert.ok(got, `coordinator registry lacks ${want.name}`);
    assert.equal(got.type, want.type, want.name);
    assert.deepEqual([...got.labels].sort(), [...want.labels].sort(), `${want.name} labels`);
  }
  for (const w of exported.worker) {
    const c = exported.coordinator.find((m) => m.name === w.name);
    if (c) assert.equal(w.type, c.type, `${w.name}: worker and coordinator disagree on the type`);
  }
});

test('the metric contract follows Prometheus naming', () => {
  const names = FUZZ_METRICS.map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  for (const m of FUZZ_METRICS) {
    assert.match(m.name, /^fuzz_[a-z_]+$/);
    assert.equal(m.type === 'counter', m.name.endsWith('_total'), `${m.name}: counters and only counters end in _total`);
    if (m.type === 'histogram') assert.match(m.name, /_seconds$/);
  }
  assert.ok(metrics.some((m) => m.name === 'process_cpu_seconds_total'), 'prom-client default metrics');
});

describe('the PromQL reader', () => {
  const ok = (q: string): void => assert.deepEqual(checkQuery(q, metrics).problems, [], q);
  const bad = (q: string, pattern: RegExp): void => assertCaught(checkQuery(q, metrics).problems, pattern);
  test('accepts the forms the dashboard uses', () => {
    ok('sum by (campaign) (rate(fuzz_execs_total{campaign=~"$campaign"}[$__rate_interval]))');
    ok('histogram_quantile(0.99, sum by (le) (rate(fuzz_batch_duration_seconds_bucket[5m])))');
    ok('rate(process_cpu_seconds_total[1m]) and on (job, instance) nodejs_version_info');
    ok('max without (instance) (fuzz_workers_connected) > bool 0');
  });
  test('refuses unknown metrics, functions, labels and rate() of a gauge', () => {
    bad('rate(fuzz_execs[5m])', /unknown metric fuzz_execs/);
    bad('rat(fuzz_execs_total[5m])', /unknown function rat/);
    bad('fuzz_findings_total{campaign="x"}', /has no label campaign/);
    bad('sum by (invariant) (fuzz_execs_total)', /grouping by invariant/);
    bad('rate(fuzz_corpus_programs[5m])', /rate\(\) of fuzz_corpus_programs, which is a gauge/);
    bad('{job="x"}', /without a metric name/);
  });
});

test('CLI arguments: unknown flags, missing values and required flags', () => {
  const problems: string[] = [];
  checkCliArgs(['worker', '--nats', 'nats://nats:4222', '--token', 't', '--procs'], 'w', problems);
  checkCliArgs(['coordinator', '--nats', 'nats://nats:4222', '--grpc', '50051', '--http', '0.0.0.0:8080'], 'c', problems);
  checkCliArgs(['campaigns'], 'x', problems);
  assertCaught(problems, /w: foliofuzz worker has no flag --token/);
  assertCaught(problems, /w: --procs needs a value/);
  assertCaught(problems, /c: --grpc "50051" is not HOST:PORT/);
  assertCaught(problems, /c: foliofuzz coordinator needs --store/);
  assertCaught(problems, /x: unknown foliofuzz subcommand/);
});

test('helpers: CPU quantities and .dockerignore matching', () => {
  assert.equal(cpuCores('2'), 2);
  assert.equal(cpuCores('500m'), 0.5);
  assert.equal(cpuCores('2Gi'), undefined);
  const ignore = ['**', '!worker', 'corpus/open', '!corpus', 'corpus/open', '**/*.md'];
  assert.equal(dockerIgnored(ignore, 'worker/cli/main.ts'), false);
  assert.equal(dockerIgnored(ignore, 'dist/x.js'), true);
  assert.equal(dockerIgnored(ignore, 'corpus/open/a.json'), true);
  assert.equal(dockerIgnored(ignore, 'corpus/known/a.json'), false);
  assert.equal(dockerIgnored(ignore, 'README.md'), true);
});

describe('a broken reference is caught', () => {
  const services = (t: DeployTree): Record<string, unknown> => obj(doc(t, COMPOSE)['services']);
  const service = (t: DeployTree, name: string): Record<string, unknown> => obj(services(t)[name]);
  const containerOf = (t: DeployTree, file: string): Record<string, unknown> => obj(get(k8s(t, file), 'spec', 'template', 'spec', 'containers', 0));

  test('compose: depends_on a missing service', () => {
    assertCaught(broken((t) => {
      obj(service(t, 'worker')['depends_on'])['natz'] = { condition: 'service_started' };
    }), /services\.worker\.depends_on: no service natz/);
  });
  test('compose: an undeclared named volume', () => {
    assertCaught(broken((t) => {
      delete obj(doc(t, COMPOSE)['volumes'])['coordinator-store'];
    }), /volume coordinator-store is not declared/);
  });
  test('compose: a bind mount of a missing file', () => {
    assertCaught(broken((t) => t.files.delete(PROMETHEUS)), /bind source deploy\/prometheus\/prometheus\.yml does not exist/);
  });
  test('compose: a flag the worker does not have', () => {
    assertCaught(broken((t) => {
      arr(service(t, 'worker')['command']).push('--token', 'secret');
    }), /foliofuzz worker has no flag --token/);
  });
  test('compose: the store off its volume', () => {
    assertCaught(broken((t) => {
      const cmd = arr(service(t, 'coordinator')['command']);
      cmd[cmd.indexOf('--store') + 1] = '/tmp/store';
    }), /--store \/tmp\/store is not on a named volume/);
  });
  test('compose: a NATS URL with the wrong port', () => {
    assertCaught(broken((t) => {
      const cmd = arr(service(t, 'worker')['command']);
      cmd[cmd.indexOf('--nats') + 1] = 'nats://nats:4223';
    }), /--nats nats:\/\/nats:4223: nats listens for clients on 4222/);
  });
  test('compose: a fixed container name on the scalable workers', () => {
    assertCaught(broken((t) => {
      service(t, 'worker')['container_name'] = 'worker';
    }), /container_name prevents --scale worker=N/);
  });
  test('prometheus: the worker port differs from --metrics', () => {
    assertCaught(broken((t) => {
      const dns = obj(get(doc(t, PROMETHEUS), 'scrape_configs', 1, 'dns_sd_configs', 0));
      dns['port'] = 9465;
    }), /worker serves metrics on 9464, not 9465/);
  });
  test('prometheus: workers scraped through one static target', () => {
    assertCaught(broken((t) => {
      const job = obj(get(doc(t, PROMETHEUS), 'scrape_configs', 1));
      delete job['dns_sd_configs'];
      job['static_configs'] = [{ targets: ['worker:9464'] }];
    }), /worker is scraped by a static target, which reaches one replica/);
  });
  test('prometheus: a coordinator target on the gRPC port', () => {
    assertCaught(broken((t) => {
      obj(get(doc(t, PROMETHEUS), 'scrape_configs', 0, 'static_configs', 0))['targets'] = ['coordinator:50051'];
    }), /coordinator serves metrics on 8080, not 50051/);
  });
  test('grafana: the dashboard provider path is not where the dashboards are mounted', () => {
    assertCaught(broken((t) => {
      obj(get(doc(t, DASHBOARD_PROVIDER), 'providers', 0, 'options'))['path'] = '/var/lib/grafana/dashboards';
    }), /options\.path \/var\/lib\/grafana\/dashboards holds no dashboard as mounted/);
  });
  test('grafana: a misspelt metric, a repeated panel id, an unprovisioned datasource', () => {
    const problems = broken((t) => {
      const panels = arr(doc(t, DASHBOARD)['panels']);
      const withQuery = panels.map(obj).filter((p) => arr(p['targets']).length > 0);
      const [a, b, c] = withQuery;
      assert.ok(a !== undefined && b !== undefined && c !== undefined);
      obj(get(a, 'targets', 0))['expr'] = 'sum(rate(fuzz_exec_total[5m]))';
      b['id'] = a['id'];
      obj(c['datasource'])['uid'] = 'prometheus';
    });
    assertCaught(problems, /unknown metric fuzz_exec_total/);
    assertCaught(problems, /panel id \d+ is used twice/);
    assertCaught(problems, /datasource uid prometheus is not provisioned/);
  });
  test('grafana: a metric with no panel', () => {
    assertCaught(broken((t) => {
      for (const p of arr(doc(t, DASHBOARD)['panels']).map(obj)) {
        for (const q of arr(p['targets']).map(obj)) if (String(q['expr']).includes('fuzz_work_redelivered_total')) q['expr'] = 'max(fuzz_workers_connected)';
      }
    }), /no dashboard panel shows fuzz_work_redelivered_total/);
  });
  test('k8s: a ServiceMonitor on a port the Service does not have', () => {
    assertCaught(broken((t) => {
      obj(get(k8s(t, 'coordinator-servicemonitor.yaml'), 'spec', 'endpoints', 0))['port'] = 'metrics';
    }), /Service foliofuzz-coordinator has no port named metrics/);
  });
  test('k8s: a PodMonitor selector that matches no pods', () => {
    assertCaught(broken((t) => {
      obj(get(k8s(t, 'worker-podmonitor.yaml'), 'spec', 'selector', 'matchLabels'))['app.kubernetes.io/component'] = 'workers';
    }), /PodMonitor\/foliofuzz-worker: selector matches no workload's pod labels/);
  });
  test('k8s: a Deployment selector that does not match its pod labels', () => {
    assertCaught(broken((t) => {
      obj(get(k8s(t, 'worker-deployment.yaml'), 'spec', 'template', 'metadata', 'labels'))['app.kubernetes.io/component'] = 'fuzzer';
    }), /Deployment\/foliofuzz-worker: spec\.selector\.matchLabels does not match the pod template labels/);
  });
  test('k8s: a Service targeting a container port name that does not exist', () => {
    assertCaught(broken((t) => {
      obj(get(k8s(t, 'coordinator-service.yaml'), 'spec', 'ports', 0))['targetPort'] = 'rpc';
    }), /targetPort rpc is no container port/);
  });
  test('k8s: a StatefulSet serviceName with no Service', () => {
    assertCaught(broken((t) => {
      obj(k8s(t, 'coordinator-statefulset.yaml')['spec'])['serviceName'] = 'coordinator';
    }), /serviceName coordinator is no Service/);
  });
  test('k8s: a secret key that does not exist', () => {
    assertCaught(broken((t) => {
      const s = obj(k8s(t, 'token-secret.yaml')['stringData']);
      s['bearer'] = s['token'];
      delete s['token'];
    }), /no Secret foliofuzz-token with key token/);
  });
  test('k8s: a volumeMount of an undeclared volume', () => {
    assertCaught(broken((t) => {
      obj(get(containerOf(t, 'coordinator-statefulset.yaml'), 'volumeMounts', 0))['name'] = 'data';
    }), /volumeMount data is not a declared volume/);
  });
  test('k8s: --procs that does not match the CPU request', () => {
    assertCaught(broken((t) => {
      obj(get(containerOf(t, 'worker-deployment.yaml'), 'resources', 'requests'))['cpu'] = '4';
    }), /--procs 2 but a CPU request of 4/);
  });
  test('k8s: a manifest missing from the kustomization, a listed file missing', () => {
    const problems = broken((t) => {
      const resources = arr(doc(t, KUSTOMIZATION)['resources']);
      resources.splice(resources.indexOf('worker-podmonitor.yaml'), 1);
      t.files.delete('deploy/k8s/namespace.yaml');
    });
    assertCaught(problems, /manifest deploy\/k8s\/worker-podmonitor\.yaml is not listed/);
    assertCaught(problems, /resource deploy\/k8s\/namespace\.yaml does not exist/);
  });
  test('k8s: the NATS URL is not the chart service', () => {
    assertCaught(broken((t) => {
      doc(t, 'deploy/k8s/nats-values.yaml')['fullnameOverride'] = 'foliofuzz-nats';
    }), /--nats nats:\/\/nats:4222, but the NATS chart serves nats:\/\/foliofuzz-nats:4222/);
  });
  test('nats: a permission too many in compose, a user missing in Kubernetes', () => {
    const problems = broken((t) => {
      const f = t.files.get(AUTH_CONF);
      assert.ok(f !== undefined);
      f.text = f.text.replace('"ff.results.>", ', '"ff.results.>", "ff.work.batch.>", ');
      const users = arr(get(doc(t, 'deploy/k8s/nats-values.yaml'), 'config', 'merge', 'authorization', 'users'));
      users.splice(1, 1);
    });
    assertCaught(problems, /auth\.conf: user worker may publish .*its role needs exactly/);
    assertCaught(problems, /nats-values\.yaml: config\.merge\.authorization: expected one user worker, found 0/);
  });
  test('nats: a worker without its NATS user, a coordinator with the worker\'s password', () => {
    const problems = broken((t) => {
      const args = arr(containerOf(t, 'worker-deployment.yaml')['args']);
      args.splice(args.indexOf('--nats-user'), 2);
      const env = obj(obj(doc(t, COMPOSE)['services'])['coordinator'])['environment'] as Record<string, unknown>;
      env['FOLIOFUZZ_NATS_PASSWORD'] = obj(obj(obj(doc(t, COMPOSE)['services'])['worker'])['environment'])['FOLIOFUZZ_NATS_PASSWORD'];
    });
    assertCaught(problems, /worker-deployment\.yaml: .*foliofuzz worker connects to NATS without --nats-user/);
    assertCaught(problems, /services\.coordinator\.environment: FOLIOFUZZ_NATS_PASSWORD is not the password nats-server gives user coordinator/);
  });
  test('k8s: a worker without probes', () => {
    assertCaught(broken((t) => {
      delete containerOf(t, 'worker-deployment.yaml')['readinessProbe'];
    }), /Deployment\/foliofuzz-worker: container worker: no readinessProbe on \/readyz/);
  });
  test('Dockerfile: a missing COPY source and a root runtime', () => {
    const problems = broken((t) => {
      const f = t.files.get(DOCKERFILE);
      assert.ok(f !== undefined);
      f.text = f.text.replace('COPY proto ./proto', 'COPY protos ./proto').replace(/^USER node$/m, '');
    });
    assertCaught(problems, /COPY protos: no such file/);
    assertCaught(problems, /must run as a non-root USER/);
  });
});

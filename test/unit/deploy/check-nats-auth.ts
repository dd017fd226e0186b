// deploy/: NATS as the cluster's security boundary (issue 18). The compose
// NATS config (deploy/nats/auth.conf) and the Kubernetes chart values give
// the coordinator's and the workers' users exactly the permissions
// worker/cluster/nats.ts says each role needs; every foliofuzz process
// connects as its role's user with that user's password; nothing else is
// a user (no anonymous access).

import { PERMISSIONS, type NatsRole, type Permissions } from '../../../worker/cluster/nats.js';
import { COMPOSE, type Service, byRole, commandFlag } from './compose-model.js';
import { arr, get, isObj, obj, str } from './json.js';
import { type DeployTree, filesUnder, firstDoc } from './load.js';

export const AUTH_CONF = 'deploy/nats/auth.conf';
const NATS_VALUES = 'deploy/k8s/nats-values.yaml';
const PASSWORD_ENV = 'FOLIOFUZZ_NATS_PASSWORD';

interface NatsUser {
  user: string;
  /** The environment variable the password comes from. */
  passwordVar: string | undefined;
  permissions: Permissions;
}

function userOf(u: unknown, passwordVar: (p: string) => string | undefined): NatsUser {
  return {
    user: str(get(u, 'user')) ?? '',
    passwordVar: passwordVar(str(get(u, 'password')) ?? ''),
    permissions: {
      publish: arr(get(u, 'permissions', 'publish', 'allow')).map(String),
      subscribe: arr(get(u, 'permissions', 'subscribe', 'allow')).map(String),
    },
  };
}

/**
 * The users of a nats-server config written as auth.conf is: JSON inside
 * `users = [...]`, each password a bare `$VARIABLE` (nats-server reads it
 * from the environment).
 */
export function parseAuthConf(text: string): NatsUser[] {
  const body = /users\s*=\s*(\[[\s\S]*\])\s*\}\s*$/.exec(text.replace(/^\s*#.*$/gm, '').trim())?.[1];
  if (body === undefined) throw new Error('no authorization { users = [...] } block');
  const json = body.replace(/:\s*\$([A-Za-z_][A-Za-z0-9_]*)/g, ': "$$$1"');
  return arr(JSON.parse(json) as unknown).map((u) => userOf(u, (p) => /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(p)?.[1]));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}

/** Exactly one user per role, with the role's permissions, and no other user. */
function checkUsers(where: string, users: NatsUser[], problems: string[]): void {
  const roles = Object.keys(PERMISSIONS) as NatsRole[];
  for (const u of users) if (!roles.includes(u.user as NatsRole)) problems.push(`${where}: user ${JSON.stringify(u.user)} is no foliofuzz role (${roles.join(', ')})`);
  for (const role of roles) {
    const found = users.filter((u) => u.user === role);
    if (found.length !== 1) {
      problems.push(`${where}: expected one user ${role}, found ${found.length}`);
      continue;
    }
    const u = found[0]!;
    for (const dir of ['publish', 'subscribe'] as const) {
      if (!sameSet(u.permissions[dir], PERMISSIONS[role][dir])) {
        problems.push(`${where}: user ${role} may ${dir} ${JSON.stringify(u.permissions[dir])}, its role needs exactly ${JSON.stringify(PERMISSIONS[role][dir])}`);
      }
    }
    if (u.passwordVar === undefined) problems.push(`${where}: user ${role}'s password is not read from the environment`);
  }
}

/** The role a foliofuzz command connects as, from --nats-user; problems if it is not its subcommand's. */
function natsUser(where: string, subcommand: string, user: string | undefined, problems: string[]): void {
  if (user === undefined) problems.push(`${where}: foliofuzz ${subcommand} connects to NATS without --nats-user`);
  else if (user !== subcommand) problems.push(`${where}: foliofuzz ${subcommand} connects as NATS user ${user}, not ${subcommand}`);
}

function checkComposeAuth(tree: DeployTree, services: Map<string, Service>, problems: string[]): void {
  const nats = byRole(services, 'nats')[0];
  if (nats === undefined) return;
  const at = `${COMPOSE}: services.${nats.name}`;
  const conf = commandFlag(nats.raw['command'], '-c', '--config');
  const mount = nats.mounts.find((m) => m.target === conf);
  if (conf === undefined || mount === undefined || mount.type !== 'bind' || mount.source !== AUTH_CONF) {
    problems.push(`${at}: nats-server does not read ${AUTH_CONF} (-c, bind-mounted)`);
    return;
  }
  let users: NatsUser[];
  try {
    users = parseAuthConf(tree.files.get(AUTH_CONF)?.text ?? '');
  } catch (err) {
    problems.push(`${AUTH_CONF}: ${String(err)}`);
    return;
  }
  checkUsers(AUTH_CONF, users, problems);
  const natsEnv = obj(nats.raw['environment']);
  for (const svc of byRole(services, 'foliofuzz')) {
    const where = `${COMPOSE}: services.${svc.name}`;
    const sub = svc.cli?.subcommand ?? '';
    const user = svc.cli?.flags.get('--nats-user');
    natsUser(where, sub, user, problems);
    const passwordVar = users.find((u) => u.user === user)?.passwordVar;
    const server = passwordVar === undefined ? undefined : natsEnv[passwordVar];
    if (server === undefined) problems.push(`${at}.environment: no ${String(passwordVar)} for user ${String(user)}`);
    else if (obj(svc.raw['environment'])[PASSWORD_ENV] !== server) problems.push(`${where}.environment: ${PASSWORD_ENV} is not the password nats-server gives user ${String(user)}`);
  }
}

function secretRef(v: unknown): string {
  const ref = get(v, 'valueFrom', 'secretKeyRef');
  return isObj(ref) ? `${String(ref['name'])}/${String(ref['key'])}` : '';
}

function checkK8sAuth(tree: DeployTree, problems: string[]): void {
  const values = firstDoc(tree, NATS_VALUES);
  const users = arr(get(values, 'config', 'merge', 'authorization', 'users'))
    .map((u) => userOf(u, (p) => /^<<\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*>>$/.exec(p)?.[1]));
  checkUsers(`${NATS_VALUES}: config.merge.authorization`, users, problems);
  const env = obj(get(values, 'container', 'env'));
  for (const file of filesUnder(tree, 'deploy/k8s')) {
    for (const doc of tree.files.get(file)?.docs ?? []) {
      if (!isObj(doc) || (doc['kind'] !== 'Deployment' && doc['kind'] !== 'StatefulSet')) continue;
      for (const c of arr(get(doc, 'spec', 'template', 'spec', 'containers'))) {
        const args = arr(get(c, 'args')).map(String);
        const where = `${file}: ${String(doc['kind'])}/${String(get(doc, 'metadata', 'name'))}: container ${String(get(c, 'name'))}`;
        const i = args.indexOf('--nats-user');
        const user = i >= 0 ? args[i + 1] : undefined;
        natsUser(where, args[0] ?? '', user, problems);
        const passwordVar = users.find((u) => u.user === user)?.passwordVar;
        const server = passwordVar === undefined ? '' : secretRef(env[passwordVar]);
        const mine = secretRef(arr(get(c, 'env')).find((e) => get(e, 'name') === PASSWORD_ENV));
        if (server === '' || mine !== server) {
          problems.push(`${where}: ${PASSWORD_ENV} comes from ${mine || 'nowhere'}, nats-server gives user ${String(user)} ${server || 'nothing'}`);
        }
      }
    }
  }
}

export function checkNatsAuth(tree: DeployTree, services: Map<string, Service>, problems: string[]): void {
  checkComposeAuth(tree, services, problems);
  checkK8sAuth(tree, problems);
}

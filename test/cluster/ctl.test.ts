// `foliofuzz ctl` as a child process against a coordinator's gRPC API: output
// shapes, --json documents and exit codes (0 ok, 1 refused, 2 usage or
// INVALID_ARGUMENT, 3 unreachable or UNAUTHENTICATED).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FoliofuzzClient } from '../../coordinator/grpc-client.js';
import { type ApiStack, startApiStack } from './grpc-stack.js';
import { CLI, type CliRun, runCli } from './run-cli.js';

type Run = CliRun;

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('foliofuzz ctl', () => {
  let stack: ApiStack;
  let ctl: (...args: string[]) => Promise<Run>;

  before(async () => {
    stack = await startApiStack();
    ctl = (...args) => runCli(['ctl', '--server', stack.address, ...args]);
  });
  after(() => stack.close());

  test('campaigns create prints the id only; list/show/stop/resume with and without --json', async () => {
    const created = await ctl('campaigns', 'create', '--bugs', 'set-uptodate-during-read', '--duration', '600', '--name', 'ctl test');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^[A-Za-z0-9._-]+\n$/);
    const id = created.stdout.trim();

    const list = await ctl('campaigns', 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    const doc = JSON.parse(list.stdout) as { campaigns: { id: string; name: string; bugs: string[]; state: string }[] };
    const mine = doc.campaigns.find((c) => c.id === id);
    assert.ok(mine, list.stdout);
    assert.equal(mine.name, 'ctl test');
    assert.deepEqual(mine.bugs, ['set-uptodate-during-read']);
    assert.equal(mine.state, 'running');

    const table = await ctl('campaigns', 'list');
    assert.match(table.stdout, /^ID +NAME +STATE/);
    assert.match(table.stdout, new RegExp(`^${id} +ctl test +running`, 'm'));

    const show = await ctl('campaigns', 'show', id);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^state +running$/m);
    const showJson = JSON.parse((await ctl('campaigns', 'show', id, '--json')).stdout) as { id: string; durationSec: number };
    assert.equal(showJson.id, id);
    assert.equal(showJson.durationSec, 600);

    const stop = await ctl('campaigns', 'stop', id);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, `${id} stopped\n`);
    const again = await ctl('campaigns', 'stop', id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^FAILED_PRECONDITION: /);
    const resume = await ctl('campaigns', 'resume', id, '--json');
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal((JSON.parse(resume.stdout) as { state: string }).state, 'running');
    assert.equal((await ctl('campaigns', 'stop', id)).code, 0);

    const kc = await ctl('campaigns', 'create', '--kernel-confirm', '--json');
    assert.equal(kc.code, 0, kc.stderr);
    const kcInfo = JSON.parse(kc.stdout) as { id: string; kernelConfirm: { runs: number } };
    assert.equal(kcInfo.kernelConfirm.runs, 100, '--kernel-confirm alone: 100 runs');
    assert.match((await ctl('campaigns', 'show', kcInfo.id)).stdout, /^kernel +no worker started with --kernel-confirm is connected/m);
    assert.equal((await ctl('campaigns', 'stop', kcInfo.id)).code, 0);

    const findings = await ctl('findings', 'list', id, '--json');
    assert.equal(findings.code, 0, findings.stderr);
    assert.ok(Array.isArray((JSON.parse(findings.stdout) as { findings: unknown[] }).findings));
  });

  test('exit 1: NOT_FOUND and FAILED_PRECONDITION with the message on stderr', async () => {
    const cases = [['campaigns', 'show', 'c-nothere'], ['campaigns', 'stop', 'c-nothere'], ['campaigns', 'resume', 'c-nothere'],
      ['findings', 'list', 'c-nothere'], ['findings', 'show', 'c-00000000-000000000000'], ['watch', 'c-nothere'], ['repro', 'download', 'c-nothere-000000000000', '--format', 'c']];
    // In parallel: each is a node start-up, slow on a loaded machine.
    const runs = await Promise.all(cases.map((args) => ctl(...args)));
    for (const [i, args] of cases.entries()) {
      const r = runs[i]!;
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^NOT_FOUND: .+/, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  test('exit 2: bad usage and INVALID_ARGUMENT', async () => {
    const cases: [string[], RegExp][] = [
      [['campaigns', 'create', '--duration', '-5'], /duration_sec: must be > 0/],
      [['campaigns', 'create', '--duration', 'soon'], /--duration: 'soon'/],
      [['campaigns', 'create', '--bugs', 'no-such-switch'], /--bugs: unknown switch 'no-such-switch'/],
      [['campaigns', 'create', '--name', 'x'.repeat(300)], /name: too long/],
      [['campaigns', 'show', 'not an id'], /campaign_id: .*is not an id/],
      [['repro', 'download', 'f-1', '--format', 'pdf'], /--format: 'pdf'/],
      [['campaigns', 'frobnicate'], /unknown command/],
      [['campaigns', 'show'], /missing required argument/],
      [['watch', 'c-1', '--bogus'], /unknown option/],
      [['campaigns', 'create', '--kernel-confirm', '0'], /--kernel-confirm: '0' is not a number of runs from 1 to 1000000/],
      [['findings', 'show', 'nope'], /'nope' is not a finding id/],
    ];
    const [noServer, badServer, ...runs] = await Promise.all([
      runCli(['ctl', 'campaigns', 'list']),
      runCli(['ctl', '--server', 'nowhere', 'campaigns', 'list']),
      ...cases.map(([args]) => ctl(...args)),
    ]);
    for (const [i, [args, why]] of cases.entries()) {
      const r = runs[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why);
    }
    assert.equal(noServer!.code, 2);
    assert.match(noServer!.stderr, /--server/);
    assert.equal(badServer!.code, 2);
    assert.match(badServer!.stderr, /--server: 'nowhere' is not HOST:PORT/);
  });

  test('exit 3: nothing listening', async () => {
    const r = await runCli(['ctl', '--server', `127.0.0.1:${await closedPort()}`, '--timeout', '10', 'campaigns', 'list']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot reach the coordinator at 127\.0\.0\.1:\d+: UNAVAILABLE/);
  });

  test('watch prints one line per update off a terminal and ends when the campaign stops', async () => {
    const client = new FoliofuzzClient({ address: stack.address });
    try {
      const c = await client.createCampaign({ bugs: [] });
      for (const asJson of [false, true]) {
        if (asJson) await client.resumeCampaign(c.id);
        const child = spawn(process.execPath, [CLI, 'ctl', '--server', stack.address, 'watch', c.id, ...(asJson ? ['--json'] : [])],
          { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        // Stop once the first update is out.
        for (let i = 0; i < 600 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(out.includes('\n'), `no update from watch: ${err}`);
        await client.stopCampaign(c.id);
        assert.equal(await exited, 0, err);
        const lines = out.trim().split('\n');
        if (asJson) {
          const docs = lines.map((l) => JSON.parse(l) as { id: string; state: string });
          assert.equal(docs[0]!.state, 'running');
          assert.equal(docs.at(-1)!.state, 'stopped');
        } else {
          assert.match(lines[0]!, new RegExp(`^${c.id} running .*execs \\d+`));
          assert.match(lines.at(-1)!, new RegExp(`^${c.id} stopped `));
        }
      }
    } finally {
      client.close();
    }
  });

  test('--help documents the exit codes', async () => {
    const r = await runCli(['ctl', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Exit codes:[\s\S]*3 +cannot connect/);
  });
});

describe('foliofuzz ctl with a token', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApiStack({ token: 'tok' });
  });
  after(() => stack.close());

  test('exit 3 without or with a wrong token; --token and FOLIOFUZZ_TOKEN get through', async () => {
    const base = ['ctl', '--server', stack.address];
    const [none, wrong, flag, env] = await Promise.all([
      runCli([...base, 'campaigns', 'list']),
      runCli([...base, '--token', 'nope', 'campaigns', 'list']),
      runCli([...base, '--token', 'tok', 'campaigns', 'list', '--json']),
      runCli([...base, 'campaigns', 'list', '--json'], { FOLIOFUZZ_TOKEN: 'tok' }),
    ]);
    assert.equal(none!.code, 3);
    assert.match(none!.stderr, /^unauthenticated: /);
    assert.equal(wrong!.code, 3);
    assert.equal(flag!.code, 0, flag!.stderr);
    assert.equal(env!.code, 0, env!.stderr);
  });
});

// The gRPC API against a coordinator: status codes of every RPC, bearer-token
// auth, health, reflection, malformed requests, TLS.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { CampaignInfo, CoordinatorApi } from '../../coordinator/api.js';
import { FoliofuzzClient } from '../../coordinator/grpc-client.js';
import { apiRoot } from '../../coordinator/grpc-schema.js';
import { REPRO_CHUNK_BYTES } from '../../coordinator/grpc-server.js';
import { MAX_NAME_LENGTH } from '../../coordinator/grpc-validate.js';
import { DEFAULT_CONFIG, type Op, type Program } from '../../worker/prog/types.js';
import { ExportError } from '../../worker/repro/errors.js';
import { EXPORT_FORMATS, exportRepro } from '../../worker/repro/export.js';
import { makeRepro } from '../../worker/repro/repro.js';
import { healthCheck, rawStream, rawUnary, reflectionServices } from './grpc-probe.js';
import { waitFor } from './cluster.js';
import { type ApiStack, startApiStack } from './grpc-stack.js';
import { runCli } from './run-cli.js';

/** The gRPC status a promise rejects with (and its details). */
async function statusOf(p: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    assert.equal(typeof err.code, 'number', `not a gRPC error: ${String(e)}`);
    return { code: err.code, details: err.details };
  }
  return { code: grpc.status.OK, details: '' };
}

async function assertStatus(p: Promise<unknown>, code: grpc.status, detail?: RegExp): Promise<void> {
  const s = await statusOf(p);
  assert.equal(grpc.status[s.code], grpc.status[code], s.details);
  if (detail) assert.match(s.details, detail);
}

/** A protobuf varint, for numbers protobufjs would not encode (it truncates to the field's type). */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function encode(type: string, obj: Record<string, unknown>): Buffer {
  const t = apiRoot().lookupType(`foliofuzz.v1.${type}`);
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

describe('gRPC API', () => {
  let stack: ApiStack;
  let client: FoliofuzzClient;

  before(async () => {
    stack = await startApiStack();
    client = new FoliofuzzClient({ address: stack.address });
  });
  after(async () => {
    client.close();
    await stack.close();
  });

  test('health is SERVING for the server and the service; reflection lists the services', async () => {
    assert.equal(await healthCheck(stack.address), 'SERVING');
    assert.equal(await healthCheck(stack.address, 'foliofuzz.v1.Foliofuzz'), 'SERVING');
    const services = await reflectionServices(stack.address);
    assert.ok(services.includes('foliofuzz.v1.Foliofuzz'), services.join(', '));
    assert.ok(services.includes('grpc.health.v1.Health'), services.join(', '));
  });

  test('CreateCampaign: a valid request makes a running campaign; every bad field is named', async () => {
    const c = await client.createCampaign({ name: 'grpc-test', bugs: ['set-uptodate-during-read'], durationSec: 3600 });
    assert.equal(c.state, 'running');
    assert.equal(c.name, 'grpc-test');
    assert.deepEqual(c.bugs, ['set-uptodate-during-read']);
    assert.equal(c.durationSec, 3600);
    assert.equal(c.kernelConfirm, undefined, 'no kernel confirmation unless asked for');
    await client.stopCampaign(c.id);
    const k = await client.createCampaign({ bugs: [], kernelConfirmRuns: 7 });
    assert.deepEqual(k.kernelConfirm, {
      runs: 7, waiting: 0, confirmed: 0, workers: 0,
      status: 'kernel confirmation: no worker started with --kernel-confirm is connected: findings will wait for one; 0 confirmed, 7 runs each',
    });
    await client.stopCampaign(k.id);

    const bad: [Record<string, unknown>, RegExp][] = [
      [{ bugs: ['set-uptodate-during-read', 'no-such-switch'] }, /^bugs\[1\]: unknown bug switch "no-such-switch"/],
      [{ bugs: [''] }, /^bugs\[0\]: expected a switch name/],
      [{ durationSec: 0 }, /^duration_sec: must be > 0/],
      [{ durationSec: -3 }, /^duration_sec: must be > 0/],
      [{ durationSec: Number.NaN }, /^duration_sec: expected a finite number/],
      [{ durationSec: Number.POSITIVE_INFINITY }, /^duration_sec: expected a finite number/],
      [{ durationSec: 1e12 }, /^duration_sec: at most/],
      [{ kernelConfirmRuns: 0 }, /^kernel_confirm_runs: expected runs of each finding on a real kernel, an integer in \[1, 1000000\], got 0/],
      [{ kernelConfirmRuns: 1_000_001 }, /^kernel_confirm_runs: .*got 1000001/],
      [{ name: 'x'.repeat(MAX_NAME_LENGTH + 1) }, /^name: too long/],
      [{ name: 'a\nb' }, /^name: contains U\+000A/],
      // Bidi overrides and isolates, zero-width characters: a name that reads as something it is not.
      [{ name: 'report\u202Etxt.exe' }, /^name: contains U\+202E/],
      [{ name: 'a\u2066b' }, /^name: contains U\+2066/],
      [{ name: 'a\u200Bb' }, /^name: contains U\+200B/],
    ];
    for (const [req, why] of bad) {
      await assertStatus(rawUnary(stack.address, 'CreateCampaign', encode('CreateCampaignRequest', req)).then(throwStatus), grpc.status.INVALID_ARGUMENT, why);
    }
  });

  test('Get/Stop/Resume/ListFindings/Watch: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION', async () => {
    const c = await client.createCampaign({ bugs: [] });
    for (const method of ['GetCampaign', 'StopCampaign', 'ResumeCampaign', 'ListFindings'] as const) {
      await assertStatus(rawUnary(stack.address, method, encode('CampaignRef', {})).then(throwStatus), grpc.status.INVALID_ARGUMENT, /^campaign_id: required/);
      await assertStatus(rawUnary(stack.address, method, encode('CampaignRef', { campaignId: '../etc/passwd' })).then(throwStatus), grpc.status.INVALID_ARGUMENT, /^campaign_id: .* is not an id/);
      await assertStatus(rawUnary(stack.address, method, encode('CampaignRef', { campaignId: 'c'.repeat(129) })).then(throwStatus), grpc.status.INVALID_ARGUMENT, /^campaign_id: too long/);
      await assertStatus(rawUnary(stack.address, method, encode('CampaignRef', { campaignId: 'c-00000000nothere' })).then(throwStatus), grpc.status.NOT_FOUND);
    }
    const w = await rawStream(stack.address, 'WatchCampaign', encode('CampaignRef', {}));
    assert.equal(grpc.status[w.code], 'INVALID_ARGUMENT', w.details);
    assert.match(w.details, /^campaign_id: required/);
    const w2 = await rawStream(stack.address, 'WatchCampaign', encode('CampaignRef', { campaignId: 'c-00000000nothere' }));
    assert.equal(grpc.status[w2.code], 'NOT_FOUND', w2.details);

    assert.equal((await client.getCampaign(c.id)).id, c.id);
    assert.deepEqual(await client.listFindings(c.id), []);
    await assertStatus(client.resumeCampaign(c.id), grpc.status.FAILED_PRECONDITION);
    assert.equal((await client.stopCampaign(c.id)).state, 'stopped');
    await assertStatus(client.stopCampaign(c.id), grpc.status.FAILED_PRECONDITION);
    assert.equal((await client.resumeCampaign(c.id)).state, 'running');
    assert.ok((await client.listCampaigns()).some((x) => x.id === c.id));
    await client.stopCampaign(c.id);
  });

  test('DownloadRepro: finding_id and format are checked, unknown findings are NOT_FOUND', async () => {
    const cases: [Record<string, unknown>, grpc.status, RegExp][] = [
      [{ format: 'REPRO_FORMAT_JSON' }, grpc.status.INVALID_ARGUMENT, /^finding_id: required/],
      [{ findingId: 'f-1' }, grpc.status.INVALID_ARGUMENT, /^format: required/],
      [{ findingId: 'f-1', format: 99 }, grpc.status.INVALID_ARGUMENT, /^format: unknown value 99/],
      [{ findingId: 'f 1', format: 'REPRO_FORMAT_C' }, grpc.status.INVALID_ARGUMENT, /^finding_id: /],
      [{ findingId: 'c-00000000nothere-000000000000', format: 'REPRO_FORMAT_C' }, grpc.status.NOT_FOUND, /./],
    ];
    for (const [req, code, why] of cases) {
      const r = await rawStream(stack.address, 'DownloadRepro', encode('DownloadReproRequest', req));
      assert.equal(grpc.status[r.code], grpc.status[code], r.details);
      assert.match(r.details, why);
      assert.equal(r.messages, 0);
    }
  });

  test('WatchCampaign streams the campaign and ends once it stops', async () => {
    const c = await client.createCampaign({ bugs: [] });
    const seen: CampaignInfo[] = [];
    const handle = client.watchCampaign(c.id, (info) => {
      seen.push(info);
      if (seen.length === 1) void client.stopCampaign(c.id);
    });
    await handle.done;
    assert.equal(seen[0]!.id, c.id);
    assert.equal(seen[0]!.state, 'running');
    assert.equal(seen.at(-1)!.state, 'stopped');
  });

  test('malformed requests are refused with INVALID_ARGUMENT (or RESOURCE_EXHAUSTED), logged, and the server keeps serving', async () => {
    const cases: [string, Buffer, grpc.status, RegExp][] = [
      // campaign_id (field 1) sent as a varint.
      ['GetCampaign', Buffer.from([0x08, 0x05]), grpc.status.INVALID_ARGUMENT, /campaign_id: sent as varint, expected length-delimited/],
      // An unknown field number.
      ['GetCampaign', Buffer.from([0x48, 0x01]), grpc.status.INVALID_ARGUMENT, /unknown field number 9/],
      // A string that claims more bytes than there are.
      ['StopCampaign', Buffer.from([0x0a, 0x0a, 0x61, 0x62]), grpc.status.INVALID_ARGUMENT, /malformed CampaignRef/],
      // Garbage.
      ['CreateCampaign', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), grpc.status.INVALID_ARGUMENT, /malformed CreateCampaignRequest/],
      // duration_sec (a double, fixed64) sent as a string; bugs (strings) sent as a varint.
      ['CreateCampaign', Buffer.from([0x1a, 0x01, 0x31]), grpc.status.INVALID_ARGUMENT, /duration_sec: sent as length-delimited, expected fixed64/],
      ['CreateCampaign', Buffer.from([0x10, 0x01]), grpc.status.INVALID_ARGUMENT, /bugs: sent as varint/],
      // Numbers out of their field's range are refused, not read modulo 2^32: seed (uint32) 2^32 + 5, format (enum) 2^40.
      ['CreateCampaign', Buffer.from([0x20, ...varint(2 ** 32 + 5)]), grpc.status.INVALID_ARGUMENT, /^malformed CreateCampaignRequest: seed: 4294967301 is out of range for uint32/],
      ['CreateCampaign', Buffer.from([0x20, ...Array<number>(10).fill(0xff), 0x01]), grpc.status.INVALID_ARGUMENT, /varint longer than 64 bits/],
      // A CreateCampaignRequest sent to ListCampaigns.
      ['ListCampaigns', encode('CreateCampaignRequest', { name: 'x' }), grpc.status.INVALID_ARGUMENT, /unknown field number 1/],
      // Far bigger than any request.
      ['CreateCampaign', encode('CreateCampaignRequest', { name: 'x'.repeat(200_000) }), grpc.status.RESOURCE_EXHAUSTED, /./],
    ];
    for (const [method, body, code, why] of cases) {
      const r = await rawUnary(stack.address, method, body);
      assert.equal(grpc.status[r.code], grpc.status[code], `${method} ${body.toString('hex').slice(0, 40)}: ${r.details}`);
      assert.match(r.details, why);
    }
    const big = await rawStream(stack.address, 'DownloadRepro', Buffer.from([0x0a, 0x01, 0x66, 0x10, ...varint(2 ** 40)]));
    assert.match(big.details, /format: 1099511627776 is out of range for an enum/);
    // A seed at the top of its range is taken as it is.
    assert.equal(grpc.status[(await rawUnary(stack.address, 'CreateCampaign', Buffer.from([0x20, ...varint(2 ** 32 - 1)]))).code], 'OK');
    // A format enum on the wire as a string (wrong wire type) on a stream.
    const s = await rawStream(stack.address, 'DownloadRepro', Buffer.from([0x0a, 0x01, 0x66, 0x12, 0x01, 0x31]));
    assert.equal(grpc.status[s.code], 'INVALID_ARGUMENT', s.details);
    assert.match(s.details, /format: sent as length-delimited, expected varint/);
    assert.ok(stack.logged.some((m) => /refused: .*unknown field number 9/.test(m)), stack.logged.join('\n'));
    assert.ok((await client.listCampaigns()).length >= 0);
    assert.equal(await healthCheck(stack.address), 'SERVING');
  });
});

/** rawUnary resolves with a status; turn a non-OK one into a rejection like the client's. */
function throwStatus(r: { code: grpc.status; details: string }): void {
  if (r.code !== grpc.status.OK) throw Object.assign(new Error(r.details), r);
}

describe('gRPC health and shutdown', () => {
  test('closing the server ends an open watch with UNAVAILABLE', async () => {
    const stack = await startApiStack();
    const client = new FoliofuzzClient({ address: stack.address });
    try {
      const c = await client.createCampaign({ bugs: [] });
      let first: () => void = () => {};
      const seen = new Promise<void>((r) => (first = r));
      const handle = client.watchCampaign(c.id, () => first());
      await seen;
      const ended = assertStatus(handle.done, grpc.status.UNAVAILABLE, /shutting down/);
      await stack.close();
      await ended;
    } finally {
      client.close();
    }
  });


  test('follows the coordinator: NOT_SERVING while NATS is down, SERVING once it is back', async () => {
    const stack = await startApiStack({ healthPollMs: 100 });
    try {
      assert.equal(await healthCheck(stack.address), 'SERVING');
      await stack.nats.stop();
      await waitFor('health to say NOT_SERVING', async () => (await healthCheck(stack.address)) === 'NOT_SERVING', 30_000);
      assert.equal(await healthCheck(stack.address, 'foliofuzz.v1.Foliofuzz'), 'NOT_SERVING');
      await stack.nats.restart();
      await waitFor('health to say SERVING again', async () => (await healthCheck(stack.address)) === 'SERVING', 60_000);
    } finally {
      await stack.close();
    }
  });
});

describe('gRPC API with a token', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApiStack({ token: 's3cret' });
  });
  after(() => stack.close());

  test('without or with a wrong token: UNAUTHENTICATED on every RPC; health and reflection stay open', async () => {
    const noToken = new FoliofuzzClient({ address: stack.address });
    const wrong = new FoliofuzzClient({ address: stack.address, token: 'guess' });
    const right = new FoliofuzzClient({ address: stack.address, token: 's3cret' });
    try {
      for (const c of [noToken, wrong]) {
        await assertStatus(c.listCampaigns(), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.createCampaign({ bugs: [] }), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.getCampaign('c-1'), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.stopCampaign('c-1'), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.resumeCampaign('c-1'), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.listFindings('c-1'), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.downloadRepro('f-1', 'json'), grpc.status.UNAUTHENTICATED);
        await assertStatus(c.watchCampaign('c-1', () => {}).done, grpc.status.UNAUTHENTICATED);
      }
      // The scheme is case-insensitive (RFC 6750): a lower-case `bearer` gets through.
      for (const scheme of ['bearer', 'BEARER', 'Bearer ']) {
        const ok = new grpc.Metadata();
        ok.set('authorization', `${scheme} s3cret`);
        const r = await rawUnary(stack.address, 'GetCampaign', encode('CampaignRef', { campaignId: 'c-00000000nothere' }), ok);
        assert.equal(grpc.status[r.code], 'NOT_FOUND', `${scheme}: ${r.details}`);
      }
      // A malformed request without the token is refused for the token first.
      const md = new grpc.Metadata();
      md.set('authorization', 's3cret');
      assert.equal(grpc.status[(await rawUnary(stack.address, 'GetCampaign', Buffer.from([0x48, 0x01]), md)).code], 'UNAUTHENTICATED');
      assert.ok(Array.isArray(await right.listCampaigns()));
      await assertStatus(right.getCampaign('c-00000000nothere'), grpc.status.NOT_FOUND);
      assert.equal(await healthCheck(stack.address), 'SERVING');
      assert.ok((await reflectionServices(stack.address)).includes('foliofuzz.v1.Foliofuzz'));
    } finally {
      for (const c of [noToken, wrong, right]) c.close();
    }
  });
});

/** The certificate's DNS name rather than its IP (TLS clients should not send an IP as the server name). */
function byName(address: string): string {
  return address.replace(/^127\.0\.0\.1:/, 'localhost:');
}

describe('gRPC API over TLS', () => {
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'foliofuzz-tls-'));
    // A self-signed certificate for 127.0.0.1; it is its own CA (and serves as the client's for mutual TLS).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a client trusting the CA gets through; plaintext and untrusting clients do not', async () => {
    const stack = await startApiStack({ tls: { cert, key }, token: 't' });
    const trusting = new FoliofuzzClient({ address: byName(stack.address), token: 't', tls: { ca: cert } });
    const plain = new FoliofuzzClient({ address: stack.address, token: 't', timeoutMs: 5000 });
    const untrusting = new FoliofuzzClient({ address: byName(stack.address), token: 't', tls: true, timeoutMs: 5000 });
    try {
      const c = await trusting.createCampaign({ bugs: [] });
      assert.equal((await trusting.stopCampaign(c.id)).state, 'stopped');
      await assertStatus(plain.listCampaigns(), grpc.status.UNAVAILABLE);
      await assertStatus(untrusting.listCampaigns(), grpc.status.UNAVAILABLE);
    } finally {
      for (const c of [trusting, plain, untrusting]) c.close();
      await stack.close();
    }
  });

  test('with a CA on the server, clients need a certificate it signed (mutual TLS)', async () => {
    const stack = await startApiStack({ tls: { cert, key, ca: cert } });
    const withCert = new FoliofuzzClient({ address: byName(stack.address), tls: { ca: cert, cert, key } });
    const without = new FoliofuzzClient({ address: byName(stack.address), tls: { ca: cert }, timeoutMs: 5000 });
    try {
      assert.ok(Array.isArray(await withCert.listCampaigns()));
      await assertStatus(without.listCampaigns(), grpc.status.UNAVAILABLE);
    } finally {
      withCert.close();
      without.close();
      await stack.close();
    }
  });
});

describe('gRPC API when the coordinator fails unexpectedly', () => {
  let stack: ApiStack;
  before(async () => {
    // The real coordinator, with two calls made to throw what an ApiError is not (a bug, say).
    stack = await startApiStack({}, (c): CoordinatorApi => ({
      createCampaign: (r) => c.createCampaign(r),
      listCampaigns: () => c.listCampaigns(),
      getCampaign: (id) => c.getCampaign(id),
      stopCampaign: (id) => c.stopCampaign(id),
      resumeCampaign: (id) => c.resumeCampaign(id),
      listFindings: () => {
        throw new TypeError('cannot read properties of undefined (secret detail)');
      },
      getRepro: () => {
        throw new RangeError('offset out of range (secret detail)');
      },
      watchCampaign: (id, l) => c.watchCampaign(id, l),
      ready: () => c.ready(),
    }));
  });
  after(() => stack.close());

  test('INTERNAL without the details, logged, and the server goes on', async () => {
    const client = new FoliofuzzClient({ address: stack.address });
    try {
      const c = await client.createCampaign({ bugs: [] });
      const s = await statusOf(client.listFindings(c.id));
      assert.equal(grpc.status[s.code], 'INTERNAL');
      assert.doesNotMatch(s.details, /secret/);
      const d = await statusOf(client.downloadRepro(`${c.id}-000000000000`, 'json'));
      assert.equal(grpc.status[d.code], 'INTERNAL');
      assert.doesNotMatch(d.details, /secret/);
      assert.equal(stack.logged.filter((m) => m === 'internal error').length, 2);
      assert.equal((await client.getCampaign(c.id)).id, c.id);
      await client.stopCampaign(c.id);
    } finally {
      client.close();
    }
  });
});

describe('DownloadRepro of a concurrent, large reproducer', () => {
  // Two threads on one fd: the xfs_io export is one script per thread; hundreds of ops make the
  // text trace span several chunks. The real coordinator serves everything but this reproducer.
  const ops = (fill: number): Op[] => Array.from({ length: 300 }, (_, i): Op => ({ op: 'pwrite', fd: 0, off: (i % 16) * 4096, len: 4096, fill }));
  const program: Program = {
    version: 1, config: DEFAULT_CONFIG, files: [{ name: 'f' }], fds: [{ file: 0, direct: false }],
    threads: [{ ops: ops(1) }, { ops: [...ops(2), { op: 'pread', fd: 0, off: 0, len: 4096 }] }],
  };
  const repro = makeRepro(program, [], null);
  let stack: ApiStack;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ff-grpc-dl-'));
    stack = await startApiStack({}, (c): CoordinatorApi => ({
      createCampaign: (r) => c.createCampaign(r),
      listCampaigns: () => c.listCampaigns(),
      getCampaign: (id) => c.getCampaign(id),
      stopCampaign: (id) => c.stopCampaign(id),
      resumeCampaign: (id) => c.resumeCampaign(id),
      listFindings: (id) => c.listFindings(id),
      getRepro: (id) => {
        if (id === 'c-00000000-000000000000') return repro;
        return c.getRepro(id);
      },
      watchCampaign: (id, l) => c.watchCampaign(id, l),
      ready: () => c.ready(),
    }));
  });
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every file arrives whole, named, in order; ctl writes one file per thread under the -o prefix', async () => {
    const client = new FoliofuzzClient({ address: stack.address });
    try {
      for (const format of EXPORT_FORMATS) {
        let want;
        try {
          want = exportRepro(repro, format).files;
        } catch (e) {
          assert.ok(e instanceof ExportError);
          await assertStatus(client.downloadRepro('c-00000000-000000000000', format), grpc.status.FAILED_PRECONDITION, /^fsx export: /);
          continue;
        }
        assert.deepEqual(await client.downloadRepro('c-00000000-000000000000', format), want, format);
      }
      const text = exportRepro(repro, 'text').files[0]!.text;
      assert.ok(text.length > REPRO_CHUNK_BYTES, `the trace spans two chunks or more (${text.length} bytes)`);
      await assertStatus(client.downloadRepro('c-00000000-111111111111', 'json'), grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
    const r = await runCli(['ctl', '--server', stack.address, 'repro', 'download', 'c-00000000-000000000000', '--format', 'xfs_io', '-o', join(dir, 'r')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['r.xfs_io-t0.txt', 'r.xfs_io-t1.txt']);
    const want = exportRepro(repro, 'xfs_io').files;
    assert.equal(readFileSync(join(dir, 'r.xfs_io-t1.txt'), 'utf8'), want[1]!.text);
    const unwritable = await runCli(['ctl', '--server', stack.address, 'repro', 'download', 'c-00000000-000000000000', '--format', 'json', '-o', join(dir, 'no', 'such', 'dir')]);
    assert.equal(unwritable.code, 2, unwritable.stderr);
    assert.match(unwritable.stderr, /^-o: cannot write .*: ENOENT\n$/);
    const out = await runCli(['ctl', '--server', stack.address, 'repro', 'download', 'c-00000000-000000000000', '--format', 'xfs_io']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, want.map((f) => `==> ${f.name} <==\n${f.text}`).join(''));
  });
});

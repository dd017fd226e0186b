// The dashboard as a user sees it, in a real browser (Debian's chromium): an
// embedded campaign finds a seeded bug while its dashboard is served behind
// a token; the pages show the campaign, its charts, the finding with what it
// means and the switch it needs, its trace and its downloads, and the
// workers. A store on disk shows a real kernel's verdict when a record has
// one, and the findings still waiting for a cross-check. Screenshots are
// kept in dist/test-artefacts/.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { type DashboardServer, serveDashboard, serveEmbeddedDashboard } from '../../coordinator/dashboard/embedded.js';
import { storeSource } from '../../coordinator/dashboard/store-source.js';
import { type CampaignOptions, type CampaignSummary, startCampaign } from '../../worker/fuzz/campaign.js';
import type { KernelVerdict } from '../../worker/report/kernel-verdict.js';
import { artefact, launch } from './browser.js';

const TOKEN = 's3cret-token';
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/findings/', import.meta.url));
const KNOWN = fileURLToPath(new URL('../../../corpus/known/', import.meta.url));

let browser: Browser;
let closeBrowser: () => Promise<void>;
let server: DashboardServer;
let summary: CampaignSummary;
const dirs: string[] = [];

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

before(async () => {
  ({ browser, close: closeBrowser } = await launch());
  const storeDir = join(tempDir('ff-dash-'), 'run-1');
  const opts: CampaignOptions & { storeDir: string } = {
    bugs: ['set-uptodate-during-read'], workers: 1, seed: 3, maxExecs: 4000, untilFound: 1, feedback: true, storeDir,
  };
  const campaign = startCampaign(opts);
  server = await serveEmbeddedDashboard(campaign, opts, { address: '127.0.0.1:0', token: TOKEN });
  summary = await campaign.done;
});

after(async () => {
  await server?.close();
  await closeBrowser?.();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function signedIn(): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.authenticate({ username: 'me', password: TOKEN });
  return page;
}

const texts = (page: Page, sel: string): Promise<string[]> => page.$$eval(sel, (els) => els.map((e) => (e.textContent ?? '').trim()));

test('without the token the dashboard answers 401 and asks a browser for it; the token opens it as Basic password or bearer', async () => {
  const bare = await fetch(server.url);
  assert.equal(bare.status, 401);
  assert.match(bare.headers.get('www-authenticate') ?? '', /Basic realm="foliofuzz dashboard/);
  assert.match(await bare.text(), /the token as password/);
  const basic = (pw: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`me:${pw}`).toString('base64')}` });
  assert.equal((await fetch(server.url, { headers: basic('wrong') })).status, 401);
  assert.equal((await fetch(server.url, { headers: basic(TOKEN) })).status, 200);
  assert.equal((await fetch(server.url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
});

test('the overview lists the campaign and its finding: class, meaning, switch needed', async () => {
  assert.equal(summary.findings.length, 1, 'the campaign found the seeded bug');
  const page = await signedIn();
  const res = await page.goto(server.url, { waitUntil: 'load' });
  assert.equal(res?.status(), 200);
  assert.equal(await page.title(), 'Campaigns · foliofuzz');
  const campaign = await texts(page, '#campaigns tbody tr td');
  assert.equal(campaign[0], 'run-1');
  assert.equal(campaign[1], 'done');
  assert.equal(campaign[2], 'set-uptodate-during-read');
  const row = await texts(page, '#findings tbody tr td');
  assert.equal(row[0], 'BUG');
  assert.match(row[1]!, /^BUG folio_end_read:already-uptodate @ folio_end_read$/);
  assert.equal(row[6], 'set-uptodate-during-read', 'the switch it needs');
  assert.match((await texts(page, '#classes'))[0]!, /BUG_ON the kernel has at this site fired/);
  await page.close();
});

test('the campaign page shows its counters and draws its charts', async () => {
  const page = await signedIn();
  await page.goto(`${server.url}campaigns/run-1`, { waitUntil: 'networkidle0' });
  const stats = await texts(page, '.stat');
  assert.ok(stats.some((s) => s.endsWith('executions') && /^[\d,]+/.test(s)), stats.join(' | '));
  assert.ok(stats.includes('1findings'), stats.join(' | '));
  await page.waitForSelector('#chart-coverage canvas');
  assert.deepEqual(await texts(page, 'figure[data-chart] figcaption'), ['Coverage and corpus', 'Executions', 'Findings']);
  assert.equal((await page.$$('figure[data-chart] canvas')).length, 3, 'uPlot drew the three charts');
  assert.ok((await texts(page, 'figure[data-chart] .u-legend')).some((l) => l.includes('coverage points')));
  await page.screenshot({ path: artefact('dashboard-campaign.png'), fullPage: true });
  await page.close();
});

test('a finding page: what it is, its trace, and a download in every format that fits', async () => {
  const page = await signedIn();
  await page.goto(server.url, { waitUntil: 'load' });
  await Promise.all([page.waitForNavigation(), page.click('#findings tbody tr a.sig')]);
  assert.match(await page.$eval('h1', (h) => h.textContent ?? ''), /folio_end_read:already-uptodate/);
  const facts = await page.$eval('dl.facts', (d) => d.textContent ?? '');
  assert.match(facts, /needs set-uptodate-during-read \(seeded bug, iomap, 2025\)/);
  assert.match(facts, /reported without a cross-check/);
  assert.match(await page.$eval('#trace', (p) => p.textContent ?? ''), /# interleaving[\s\S]*# violation after/);
  const links = await texts(page, '#downloads a');
  for (const f of ['json', 'text', 'c', 'report']) assert.ok(links.includes(f), `${f} in ${links.join(',')}`);
  const href = new URL(await page.$eval('#downloads a[href$="format=report"]', (a) => a.getAttribute('href') ?? ''), server.url).href;
  const report = await page.evaluate(async (u) => (await fetch(u)).text(), href);
  assert.match(report, /^Subject: \[foliofuzz\] kernel BUG in folio_end_read/);
  assert.match(await page.$eval('#next', (p) => p.textContent ?? ''), /foliofuzz replay .*repro\.json/);
  await page.screenshot({ path: artefact('dashboard-finding.png'), fullPage: true });
  await page.close();
});

test('the workers page lists the worker threads', async () => {
  const page = await signedIn();
  await page.goto(`${server.url}workers`, { waitUntil: 'load' });
  const row = await texts(page, '#workers tbody tr td');
  assert.equal(row[0], 'worker-0');
  assert.equal(row[1], 'this process');
  await page.close();
});

test('a store on disk: a real kernel verdict when the record has one, and signatures waiting for a cross-check', async () => {
  const root = tempDir('ff-dash-store-');
  cpSync(join(FIXTURES, 'cluster'), root, { recursive: true });
  const f = join(root, 'campaigns', 'c-0a1b2c3d', 'findings', '290a8c9ea88e', 'finding.json');
  const rec = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
  const kernel: KernelVerdict = {
    verdict: 'reproduces', text: 'reproduces 3/10 on Linux 6.18.44 (xfs, 4096-byte blocks): WARN kernel-warning:fs/iomap/buffered-io.c @ ifs_free',
    release: '6.18.44', fs: 'xfs, 4096-byte blocks', runs: 10, hits: 3, signature: 'WARN kernel-warning:fs/iomap/buffered-io.c @ ifs_free',
    detail: 'WARNING at fs/iomap/buffered-io.c',
    log: ['WARNING: CPU: 1 PID: 42 at fs/iomap/buffered-io.c:263 ifs_free+0x1c/0x40', 'Call Trace:', ' <TASK>', ' truncate_inode_pages_range+0x1a/0x2b0'],
    at: '2026-12-07T00:00:00.000Z',
  };
  writeFileSync(f, JSON.stringify({ ...rec, kernel }));
  cpSync(join(KNOWN, 'mkwrite-ifs-zeroed.json'), join(dirname(f), 'repro.json'));
  const s = await serveDashboard(storeSource(root), { address: '127.0.0.1:0' });
  try {
    const page = await browser.newPage();
    await page.goto(`${s.url}campaigns/c-0a1b2c3d`, { waitUntil: 'load' });
    const head = await texts(page, '#findings thead th');
    assert.ok(head.includes('Real kernel'), head.join(','));
    const cells = await texts(page, '#findings tbody td');
    assert.ok(cells.includes('reproduces'));
    assert.ok((await texts(page, '#pending tbody td')).some((t) => /waiting for a cross-check|not cross-checked/.test(t)));
    assert.equal(await page.$eval('#no-history', (p) => p.textContent !== null), true, 'no charts without a history');
    // The finding's bug report quotes what the real kernel did.
    await Promise.all([page.waitForNavigation(), page.click('#findings tbody tr a.sig')]);
    assert.equal(await page.$eval('#kernel-log', (p) => p.textContent ?? ''), kernel.log.join('\n'), 'the finding page shows the kernel\'s log');
    const href = new URL(await page.$eval('#downloads a[href$="format=report"]', (a) => a.getAttribute('href') ?? ''), s.url).href;
    const report = await page.evaluate(async (u) => (await fetch(u)).text(), href);
    assert.match(report, /\nSeen on Linux 6\.18\.44 \(xfs, 4096-byte blocks\): the reproducer below showed it in 3 of 10 runs\n/);
    assert.match(report, /\nKernel log \(Linux 6\.18\.44, the first run that showed it\)\n-+\n {2}WARNING: CPU: 1 PID: 42 at fs\/iomap\/buffered-io\.c:263 ifs_free\+0x1c\/0x40\n {2}Call Trace:\n/);
    await page.close();
  } finally {
    await s.close();
  }
});

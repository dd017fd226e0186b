// Debian's chromium, driven by puppeteer-core, for the dashboard's tests.
// Headless with what keeps it off the network (this machine has none, and
// chromium waits on lookups without these flags) and a profile of its own.
// puppeteer-core never downloads a browser; test/ensure-tools.mjs installs
// the `chromium` package.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env['FOLIOFUZZ_CHROMIUM'] ?? '/usr/bin/chromium';

/** Where screenshots are kept after the run (dist/ is not in git). */
export const ARTEFACTS = fileURLToPath(new URL('../../test-artefacts/', import.meta.url));

export async function launch(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'foliofuzz-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: profile, timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A path for a screenshot under the artefacts directory. */
export function artefact(name: string): string {
  mkdirSync(ARTEFACTS, { recursive: true });
  return join(ARTEFACTS, name);
}

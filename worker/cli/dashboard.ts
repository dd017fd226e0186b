// `foliofuzz dashboard [--store DIR] [--http HOST:PORT] [--token T]`: the
// dashboard of a store on disk (coordinator/dashboard/store-source.ts),
// served until Ctrl-C. The server is loaded only when it is needed: this
// file stays light, since `fuzz` checks its --http flag with it.

import { runDirs } from '../../coordinator/dashboard/stored.js';
import { ProgramInputError } from '../prog/errors.js';

/** An --http flag: HOST:PORT (port 0: a free one). */
export function checkHttpAddress(v: string): string {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new ProgramInputError(`--http: '${v}' is not HOST:PORT`);
  return v;
}

export async function dashboardCommand(opts: { store: string; http: string; token?: string }): Promise<number> {
  try {
    if (runDirs(opts.store).length === 0) throw new ProgramInputError(`${opts.store}: no campaign store here (run foliofuzz fuzz, or give --store DIR)`);
    checkHttpAddress(opts.http);
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const { serveDashboard } = await import('../../coordinator/dashboard/embedded.js');
  const { storeSource } = await import('../../coordinator/dashboard/store-source.js');
  let server;
  try {
    server = await serveDashboard(storeSource(opts.store), { address: opts.http, ...(opts.token !== undefined ? { token: opts.token } : {}) });
  } catch (e) {
    process.stderr.write(`dashboard: cannot serve on ${opts.http}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  process.stderr.write(`dashboard of ${opts.store}: ${server.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await server.close();
  return 0;
}

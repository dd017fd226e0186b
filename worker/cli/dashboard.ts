// `foliofuzz dashboard [--store DIR] [--http HOST:PORT] [--token T]`: the
// dashboard of a store on disk (coordinator/dashboard/store-source.ts),
// served until Ctrl-C.

import { serveDashboard } from '../../coordinator/dashboard/embedded.js';
import { storeSource } from '../../coordinator/dashboard/store-source.js';
import { runDirs } from '../../coordinator/dashboard/stored.js';
import { ProgramInputError } from '../prog/errors.js';

export async function dashboardCommand(opts: { store: string; http: string; token?: string }): Promise<number> {
  try {
    if (runDirs(opts.store).length === 0) throw new ProgramInputError(`${opts.store}: no campaign store here (run foliofuzz fuzz, or give --store DIR)`);
    if (!/^.+:\d{1,5}$/.test(opts.http)) throw new ProgramInputError(`--http: '${opts.http}' is not HOST:PORT`);
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
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

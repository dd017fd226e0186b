// The coordinator's HTTP side (node:http): Prometheus /metrics, /healthz (the
// process is up), /readyz (NATS connected and the store loaded), and
// reproducer downloads:
//
//   GET /findings/<finding id>/repro?format=json|text|xfs_io|c|fsx
//   GET /api/v1/...   campaigns and findings as JSON (http-api.ts)
//
// Downloads and the JSON API need `Authorization: Bearer <token>` when a token is set (401
// otherwise; the scheme's case does not matter, RFC 6750). A reproducer that does not fit a format (fsx takes one thread,
// xfs_io one file) is a 422 saying why; a concurrent program's xfs_io scripts
// (one per thread) come as one document with a marked section per script.
//
// With a dashboard (coordinator/dashboard/), its pages too, behind the same
// token: a browser presents it as the password of HTTP Basic (dashboard/auth.ts).
// An embedded campaign serves the same routes without a registry (no /metrics).

import { timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp } from '../worker/cluster/metrics.js';
import { ExportError } from '../worker/repro/errors.js';
import { EXPORT_FORMATS, type ExportFormat, type ExportedFile, exportRepro } from '../worker/repro/export.js';
import { ApiError, type CoordinatorApi } from './api.js';
import { BASIC_CHALLENGE, basicAsBearer } from './dashboard/auth.js';
import type { Dashboard } from './dashboard/handler.js';
import { JSON_API_PREFIX, type JsonApi, jsonApiReply } from './http-api.js';

/** What the HTTP side needs of whoever serves it. */
export type HttpApi = Pick<CoordinatorApi, 'getRepro' | 'ready'>;

export interface HttpServerOptions {
  /** HOST:PORT; port 0 picks a free one. */
  address: string;
  token?: string;
  /** Unset: no /metrics. */
  registry?: Registry;
  /** The dashboard's pages, when served. */
  dashboard?: Dashboard;
  /** The JSON API (/api/v1/...), when served (a coordinator). */
  jsonApi?: JsonApi;
  /** What /readyz reports (default api.ready()): the process may have more to start than the coordinator (its gRPC server). */
  ready?: () => boolean;
  /** Told about every request refused with 4xx/5xx (for logs). */
  onError?: (status: number, path: string, message: string) => void;
}

export interface HttpServerHandle {
  port: number;
  close: () => Promise<void>;
}

const CONTENT_TYPES: Record<ExportFormat, string> = {
  json: 'application/json', text: 'text/plain; charset=utf-8', xfs_io: 'text/plain; charset=utf-8', c: 'text/x-c; charset=utf-8', fsx: 'text/plain; charset=utf-8',
  report: 'text/plain; charset=utf-8',
};

function splitAddress(address: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || m[1] === '' || port > 65535) throw new Error(`--http: '${address}' is not HOST:PORT`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^bearer +(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** One document for a multi-file export: each file in a section headed `# ---- file: NAME ----`. */
export function bundleFiles(files: ExportedFile[]): string {
  if (files.length === 1) return files[0]!.text;
  const head = `# ${files.length} files, one per thread: split this document at the "# ---- file:" lines and run them concurrently\n`;
  return head + files.map((f) => `# ---- file: ${f.name} ----\n${f.text}`).join('');
}

export async function startHttpServer(api: HttpApi, opts: HttpServerOptions): Promise<HttpServerHandle> {
  const { host, port } = splitAddress(opts.address);
  const send = (res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string | string[]> = {}): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };
  const fail = (res: ServerResponse, path: string, status: number, message: string, extra: Record<string, string | string[]> = {}): void => {
    opts.onError?.(status, path, message);
    send(res, status, `${message}\n`, 'text/plain; charset=utf-8', extra);
  };

  /** The token as a bearer token, or (a browser) as the password of HTTP Basic; 401 when it is not there. */
  const authorized = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const h = req.headers.authorization;
    if (opts.token === undefined || tokenMatches(h, opts.token) || tokenMatches(basicAsBearer(h), opts.token)) return true;
    fail(res, path, 401, 'unauthenticated: send Authorization: Bearer <token> (a browser: any user name, the token as password)',
      { 'www-authenticate': opts.dashboard ? [BASIC_CHALLENGE, 'Bearer'] : 'Bearer' });
    return false;
  };

  const download = (req: IncomingMessage, res: ServerResponse, path: string, findingId: string, url: URL): void => {
    if (!authorized(req, res, path)) return;
    const format = url.searchParams.get('format') ?? 'json';
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      fail(res, path, 400, `format: '${format}' is not one of ${EXPORT_FORMATS.join(', ')}`);
      return;
    }
    try {
      const repro = api.getRepro(findingId);
      const { files } = exportRepro(repro, format as ExportFormat);
      const name = files.length === 1 ? files[0]!.name : 'xfs_io.txt';
      send(res, 200, bundleFiles(files), CONTENT_TYPES[format as ExportFormat], {
        'content-disposition': `attachment; filename="${findingId}-${name}"`,
        'x-foliofuzz-files': String(files.length),
      });
    } catch (err) {
      if (err instanceof ApiError) fail(res, path, err.code === 'NOT_FOUND' ? 404 : err.code === 'INVALID_ARGUMENT' ? 400 : 409, err.message);
      else if (err instanceof ExportError) fail(res, path, 422, `format ${format} cannot express this reproducer: ${err.message}`);
      else fail(res, path, 500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      fail(res, req.url ?? '', 400, 'malformed request URL');
      return;
    }
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(res, path, 405, `${req.method ?? '?'}: only GET`, { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/metrics' && opts.registry) {
      const registry = opts.registry;
      registry.metrics().then(
        (text) => send(res, 200, text, registry.contentType),
        (err: unknown) => fail(res, path, 500, `metrics: ${String(err)}`),
      );
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'ok\n');
      return;
    }
    if (path === '/readyz') {
      if ((opts.ready ?? (() => api.ready()))()) send(res, 200, 'ready\n');
      else fail(res, path, 503, 'not ready: NATS not connected, the store not loaded or the API not listening yet');
      return;
    }
    if (path.startsWith(JSON_API_PREFIX) && opts.jsonApi) {
      if (!authorized(req, res, path)) return;
      const reply = jsonApiReply(opts.jsonApi, path);
      if (reply.status !== 200) opts.onError?.(reply.status, path, JSON.stringify(reply.body));
      send(res, reply.status, `${JSON.stringify(reply.body, null, 2)}\n`, 'application/json');
      return;
    }
    const m = /^\/findings\/([^/]+)\/repro$/.exec(path);
    if (m) {
      let id: string;
      try {
        id = decodeURIComponent(m[1]!);
      } catch {
        fail(res, path, 400, 'malformed finding id (bad percent-encoding)');
        return;
      }
      download(req, res, path, id, url);
      return;
    }
    if (opts.dashboard?.matches(path)) {
      if (authorized(req, res, path)) opts.dashboard.serve(req, res, url);
      return;
    }
    fail(res, path, 404, `no such path: ${path} (try ${opts.dashboard ? '/ (the dashboard), ' : ''}${opts.jsonApi ? '/api/v1/campaigns, ' : ''}/metrics, /healthz, /readyz, /findings/<id>/repro?format=json)`);
  });
  return listenHttp(server, host, port);
}

// The dashboard's routes on an HTTP server: its pages (pages.ts) and its
// static files (assets.ts). The server (coordinator/http-server.ts) checks
// the token first, then hands over every path `matches` claims.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ASSETS } from './assets.js';
import { esc, page } from './html.js';
import type { DashboardSource } from './model.js';
import { type PageContext, campaignPage, findingPage, overviewPage, workersPage } from './pages.js';

export interface Dashboard {
  /** A path the dashboard serves (a page or a static file). */
  matches(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, url: URL): void;
}

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Scripts and styles from this server only (uPlot sets element styles from its script).
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

const PAGE = /^\/(?:|workers|campaigns\/[A-Za-z0-9._-]+|findings\/[A-Za-z0-9._-]+)$/;

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...HEADERS, ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** One page, or null when what it names does not exist. */
function render(src: DashboardSource, ctx: PageContext, path: string): string | null {
  if (path === '/') return overviewPage(src, ctx);
  if (path === '/workers') return workersPage(src, ctx);
  const [, kind, id] = path.split('/');
  if (kind === 'campaigns') return campaignPage(src, ctx, id!);
  return findingPage(src, ctx, id!);
}

export function dashboard(src: DashboardSource): Dashboard {
  return {
    matches: (path) => PAGE.test(path) || path in ASSETS,
    serve(req, res, url) {
      const asset = ASSETS[url.pathname];
      if (asset) {
        send(req, res, 200, asset.type, asset.body(), { 'cache-control': 'max-age=3600' });
        return;
      }
      const ctx: PageContext = { path: url.pathname + url.search, paused: url.searchParams.get('refresh') === '0' };
      let html: string | null;
      try {
        html = render(src, ctx, url.pathname);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        send(req, res, 500, 'text/html; charset=utf-8', page({ title: 'Error', source: src.title, path: ctx.path, paused: true }, `<h1>Internal error</h1><pre>${esc(why)}</pre>`));
        return;
      }
      if (html === null) {
        const body = `<h1>Not found</h1><p>Nothing is called <code>${esc(url.pathname)}</code> here. <a href="/">All campaigns</a></p>`;
        send(req, res, 404, 'text/html; charset=utf-8', page({ title: 'Not found', source: src.title, path: ctx.path, paused: true }, body));
        return;
      }
      send(req, res, 200, 'text/html; charset=utf-8', html);
    },
  };
}

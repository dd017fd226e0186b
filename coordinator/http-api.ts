// The coordinator's read-only JSON API over HTTP, beside the gRPC API: the
// shapes of api.ts, as `ctl --json` prints them, behind the same token as the
// downloads (http-server.ts checks it first).
//
//   GET /api/v1/campaigns                 {"campaigns": [CampaignInfo, ...]}
//   GET /api/v1/campaigns/<id>            CampaignInfo (its kernel confirmation status included)
//   GET /api/v1/campaigns/<id>/findings   {"findings": [FindingInfo, ...]} (each with its kernel verdict, once it has one)
//
// Campaigns are created and stopped over gRPC only.

import { ApiError, type CoordinatorApi } from './api.js';

export type JsonApi = Pick<CoordinatorApi, 'listCampaigns' | 'getCampaign' | 'listFindings'>;

export const JSON_API_PREFIX = '/api/v1/';

export interface JsonReply {
  status: number;
  body: unknown;
}

const ROUTE = /^\/api\/v1\/campaigns(?:\/([^/]+)(\/findings)?)?$/;

/** The reply to a GET of `path` (under JSON_API_PREFIX). */
export function jsonApiReply(api: JsonApi, path: string): JsonReply {
  const m = ROUTE.exec(path);
  if (!m) return { status: 404, body: { error: `no such path: ${path} (try /api/v1/campaigns, /api/v1/campaigns/<id>, /api/v1/campaigns/<id>/findings)` } };
  try {
    if (m[1] === undefined) return { status: 200, body: { campaigns: api.listCampaigns() } };
    const id = decodeURIComponent(m[1]);
    return { status: 200, body: m[2] ? { findings: api.listFindings(id) } : api.getCampaign(id) };
  } catch (err) {
    if (err instanceof URIError) return { status: 400, body: { error: 'malformed campaign id (bad percent-encoding)' } };
    if (err instanceof ApiError && err.code === 'NOT_FOUND') return { status: 404, body: { error: err.message } };
    throw err;
  }
}

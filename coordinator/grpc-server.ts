// The gRPC front end of the coordinator: foliofuzz.v1.Foliofuzz over a
// CoordinatorApi, plus the standard health service (SERVING while api.ready())
// and server reflection. It only translates: requests are decoded strictly
// (grpc-schema.ts) and validated field by field (grpc-validate.ts), ApiErrors
// become their status codes, and anything else is INTERNAL and logged.
//
// Auth: with a token, every Foliofuzz call needs `authorization: Bearer <token>`
// (UNAUTHENTICATED otherwise); health and reflection stay open so probes and
// grpcurl's `list` work without secrets. TLS: server cert/key; with a CA, client
// certificates signed by it are required as well (mutual TLS).

import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { pino } from 'pino';
import { findProtoFile } from '../worker/prog/proto-codec.js';
import { ExportError } from '../worker/repro/errors.js';
import { exportRepro } from '../worker/repro/export.js';
import { ApiError, type ApiErrorCode, type CampaignInfo, type CoordinatorApi } from './api.js';
import { campaignToWire, type Decoded, findingToWire, SERVICE_NAME, serviceDefinition, type WireObject } from './grpc-schema.js';
import {
  RequestError, validateCampaignRef, validateCreateCampaign, validateDownloadRepro, validateListCampaigns,
} from './grpc-validate.js';

export interface GrpcLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface GrpcServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  token?: string;
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
  logger?: GrpcLogger;
  /** How often health follows api.ready(), ms. */
  healthPollMs?: number;
}

export interface GrpcServerHandle {
  port: number;
  close(): Promise<void>;
}

/** Requests are small; anything bigger is refused before it is decoded. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Reproducer files are sent in chunks of at most this many bytes. */
export const REPRO_CHUNK_BYTES = 32 * 1024;

const API_STATUS: Record<ApiErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
};

class AuthError extends Error {}

interface Status {
  code: grpc.status;
  details: string;
}

type AnyCall = grpc.ServerUnaryCall<Decoded, WireObject> | grpc.ServerWritableStream<Decoded, WireObject>;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time check of `authorization: Bearer <token>` (the scheme in any case, RFC 6750). */
function checkToken(md: grpc.Metadata, token: string | undefined): void {
  if (token === undefined) return;
  const values = md.get('authorization');
  if (values.length === 0) throw new AuthError('missing authorization metadata (Bearer token)');
  const v = values.length === 1 && typeof values[0] === 'string' ? values[0] : '';
  const m = /^bearer +(.*)$/i.exec(v);
  if (!timingSafeEqual(digest(m ? m[1]! : ''), digest(token)) || !m) throw new AuthError('invalid token');
}

export async function startGrpcServer(api: CoordinatorApi, opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const log: GrpcLogger = opts.logger ?? pino({ name: 'grpc' }, pino.destination(2));
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  // Open streams and how to cut each short at shutdown (a watch also unsubscribes).
  const streams = new Map<grpc.ServerWritableStream<Decoded, WireObject>, (why: Status) => void>();

  function toStatus(method: string, call: AnyCall, err: unknown): Status {
    const peer = call.getPeer();
    if (err instanceof AuthError) {
      log.warn({ method, peer }, `unauthenticated: ${err.message}`);
      return { code: grpc.status.UNAUTHENTICATED, details: err.message };
    }
    if (err instanceof RequestError) {
      log.warn({ method, peer }, `refused: ${err.message}`);
      return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
    }
    if (err instanceof ApiError) return { code: API_STATUS[err.code], details: err.message };
    if (err instanceof ExportError) return { code: grpc.status.FAILED_PRECONDITION, details: err.message };
    log.error({ method, peer, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'internal error');
    return { code: grpc.status.INTERNAL, details: 'internal error (logged on the coordinator)' };
  }

  /** Auth, then the decoded request (or why it could not be decoded). */
  function admit(call: AnyCall): WireObject {
    checkToken(call.metadata, opts.token);
    const req = call.request;
    if (!req.ok) throw new RequestError(req.error);
    return req.value;
  }

  function unary(method: string, body: (req: WireObject) => Promise<WireObject> | WireObject): grpc.handleUnaryCall<Decoded, WireObject> {
    return (call, callback) => {
      Promise.resolve()
        .then(() => body(admit(call)))
        .then((res) => callback(null, res), (err: unknown) => callback(toStatus(method, call, err)));
    };
  }

  function streaming(method: string, body: (req: WireObject, call: grpc.ServerWritableStream<Decoded, WireObject>) => Promise<void>): grpc.handleServerStreamingCall<Decoded, WireObject> {
    return (call) => {
      streams.set(call, (why) => {
        if (!call.cancelled) call.emit('error', why);
      });
      call.on('close', () => streams.delete(call));
      Promise.resolve()
        .then(() => body(admit(call), call))
        .catch((err: unknown) => {
          streams.delete(call);
          if (!call.cancelled) call.emit('error', toStatus(method, call, err));
        });
    };
  }

  /** Write with backpressure; a client that goes away while we wait releases us too. */
  function writeAndWait(call: grpc.ServerWritableStream<Decoded, WireObject>, msg: WireObject): Promise<void> {
    return new Promise((resolve) => {
      if (call.write(msg)) {
        resolve();
        return;
      }
      const done = (): void => {
        call.off('drain', done);
        call.off('cancelled', done);
        resolve();
      };
      call.on('drain', done);
      call.on('cancelled', done);
    });
  }

  const impl: grpc.UntypedServiceImplementation = {
    CreateCampaign: unary('CreateCampaign', async (req) => campaignToWire(await api.createCampaign(validateCreateCampaign(req)))),
    ListCampaigns: unary('ListCampaigns', (req) => {
      validateListCampaigns(req);
      return { campaigns: api.listCampaigns().map(campaignToWire) };
    }),
    GetCampaign: unary('GetCampaign', (req) => campaignToWire(api.getCampaign(validateCampaignRef(req)))),
    StopCampaign: unary('StopCampaign', async (req) => campaignToWire(await api.stopCampaign(validateCampaignRef(req)))),
    ResumeCampaign: unary('ResumeCampaign', async (req) => campaignToWire(await api.resumeCampaign(validateCampaignRef(req)))),
    ListFindings: unary('ListFindings', (req) => ({ findings: api.listFindings(validateCampaignRef(req)).map(findingToWire) })),
    DownloadRepro: streaming('DownloadRepro', async (req, call) => {
      const { findingId, format } = validateDownloadRepro(req);
      const { files } = exportRepro(api.getRepro(findingId), format);
      for (const f of files) {
        const data = Buffer.from(f.text, 'utf8');
        // An empty file is still one chunk, so its name arrives.
        for (let off = 0; off === 0 || off < data.length; off += REPRO_CHUNK_BYTES) {
          if (call.cancelled) return;
          const end = Math.min(off + REPRO_CHUNK_BYTES, data.length);
          await writeAndWait(call, { fileName: f.name, data: data.subarray(off, end), endOfFile: end === data.length, fileCount: files.length });
        }
      }
      call.end();
    }),
    WatchCampaign: streaming('WatchCampaign', async (req, call) => {
      const id = validateCampaignRef(req);
      let finished = false;
      let unsubscribe: (() => void) | undefined;
      /** Ends the stream: OK once the campaign left running, `why` when cut short. */
      const finish = (why?: Status): void => {
        if (finished) return;
        finished = true;
        unsubscribe?.();
        streams.delete(call);
        if (call.cancelled) return;
        if (why) call.emit('error', why);
        else call.end();
      };
      const onInfo = (info: CampaignInfo): void => {
        if (finished || call.cancelled) return;
        call.write(campaignToWire(info));
        if (info.state !== 'running') finish();
      };
      call.on('cancelled', () => finish());
      streams.set(call, finish);
      unsubscribe = api.watchCampaign(id, onInfo);
      // The first update may already have ended the stream before unsubscribe existed.
      if (finished) unsubscribe();
    }),
  };
  server.addService(serviceDefinition(), impl);

  const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  const followReady = (): void => {
    const status = api.ready() ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', status);
    health.setStatus(SERVICE_NAME, status);
  };
  followReady();
  const poll = setInterval(followReady, opts.healthPollMs ?? 500);
  poll.unref();

  const reflectionDef = protoLoader.loadSync([findProtoFile(), healthProtoPath], { keepCase: true });
  new ReflectionService(reflectionDef).addToServer(server);

  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(opts.tls.ca ?? null, [{ private_key: opts.tls.key, cert_chain: opts.tls.cert }], opts.tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(opts.address, creds, (err, p) => (err ? reject(err) : resolve(p)));
    });
  } catch (e) {
    clearInterval(poll);
    server.forceShutdown();
    throw new Error(`gRPC: cannot listen on ${opts.address}: ${e instanceof Error ? e.message : String(e)}`);
  }

  return {
    port,
    close: () => new Promise<void>((resolve) => {
      clearInterval(poll);
      // Open watch streams would hold tryShutdown forever: end them first.
      const why = { code: grpc.status.UNAVAILABLE, details: 'the coordinator is shutting down' };
      for (const stop of [...streams.values()]) stop(why);
      streams.clear();
      const force = setTimeout(() => server.forceShutdown(), 3000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }),
  };
}

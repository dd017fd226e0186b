// A typed client of foliofuzz.v1.Foliofuzz (used by `foliofuzz ctl` and the
// tests): api.ts shapes in, api.ts shapes out. Failures reject with grpc-js's
// ServiceError (its `code` is the gRPC status).

import * as grpc from '@grpc/grpc-js';
import type { ExportedFile, ExportFormat } from '../worker/repro/export.js';
import type { CampaignInfo, CreateCampaignRequest, FindingInfo } from './api.js';
import { campaignFromWire, findingFromWire, serviceDefinition, type WireObject } from './grpc-schema.js';
import { formatToWire } from './grpc-validate.js';

export interface GrpcClientOptions {
  /** host:port */
  address: string;
  token?: string;
  /** TLS: true for the system's roots, or a CA (and a client cert/key for mutual TLS). */
  tls?: boolean | { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Deadline of each unary call, ms. */
  timeoutMs?: number;
}

export interface WatchHandle {
  /** Resolves when the server ends the stream (the campaign stopped or finished) or after cancel(). */
  done: Promise<void>;
  cancel(): void;
}

const ServiceClient = grpc.makeGenericClientConstructor(serviceDefinition(), 'Foliofuzz');

function credentials(tls: GrpcClientOptions['tls']): grpc.ChannelCredentials {
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure();
  if (tls === true) return grpc.credentials.createSsl();
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

export function isServiceError(e: unknown): e is grpc.ServiceError {
  return e instanceof Error && typeof (e as Partial<grpc.ServiceError>).code === 'number';
}

export class FoliofuzzClient {
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;

  constructor(private readonly opts: GrpcClientOptions) {
    this.client = new ServiceClient(opts.address, credentials(opts.tls), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.opts.token !== undefined) md.set('authorization', `Bearer ${this.opts.token}`);
    return md;
  }

  private unary(method: string, req: WireObject): Promise<WireObject> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<WireObject, WireObject>(
        `/foliofuzz.v1.Foliofuzz/${method}`, (v) => serializer(method)(v), (b) => deserializer(method)(b), req, this.metadata(),
        { deadline: Date.now() + this.timeoutMs },
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
    });
  }

  private stream(method: string, req: WireObject, deadline?: number): grpc.ClientReadableStream<WireObject> {
    return this.client.makeServerStreamRequest<WireObject, WireObject>(
      `/foliofuzz.v1.Foliofuzz/${method}`, (v) => serializer(method)(v), (b) => deserializer(method)(b), req, this.metadata(),
      deadline === undefined ? {} : { deadline },
    );
  }

  /** Resolves once the channel is connected; rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
    });
  }

  async createCampaign(req: CreateCampaignRequest): Promise<CampaignInfo> {
    return campaignFromWire(await this.unary('CreateCampaign', { ...req }));
  }

  async listCampaigns(): Promise<CampaignInfo[]> {
    const res = await this.unary('ListCampaigns', {});
    return (res['campaigns'] as WireObject[]).map(campaignFromWire);
  }

  async getCampaign(id: string): Promise<CampaignInfo> {
    return campaignFromWire(await this.unary('GetCampaign', { campaignId: id }));
  }

  async stopCampaign(id: string): Promise<CampaignInfo> {
    return campaignFromWire(await this.unary('StopCampaign', { campaignId: id }));
  }

  async resumeCampaign(id: string): Promise<CampaignInfo> {
    return campaignFromWire(await this.unary('ResumeCampaign', { campaignId: id }));
  }

  async listFindings(campaignId: string): Promise<FindingInfo[]> {
    const res = await this.unary('ListFindings', { campaignId });
    return (res['findings'] as WireObject[]).map(findingFromWire);
  }

  /** The exported files, reassembled from their chunks in the order the server sent them. */
  downloadRepro(findingId: string, format: ExportFormat): Promise<ExportedFile[]> {
    return new Promise((resolve, reject) => {
      const files: { name: string; parts: Buffer[]; complete: boolean }[] = [];
      let expected = 0;
      const call = this.stream('DownloadRepro', { findingId, format: formatToWire(format) }, Date.now() + this.timeoutMs);
      call.on('data', (chunk: WireObject) => {
        const name = chunk['fileName'] as string;
        expected = chunk['fileCount'] as number;
        let cur = files[files.length - 1];
        if (cur === undefined || cur.complete || cur.name !== name) {
          cur = { name, parts: [], complete: false };
          files.push(cur);
        }
        cur.parts.push(Buffer.from(chunk['data'] as Uint8Array));
        if (chunk['endOfFile'] === true) cur.complete = true;
      });
      call.on('error', reject);
      call.on('end', () => {
        if (files.length !== expected || files.some((f) => !f.complete)) {
          reject(new Error(`download ended early: ${files.filter((f) => f.complete).length} of ${expected} files complete`));
          return;
        }
        resolve(files.map((f) => ({ name: f.name, text: Buffer.concat(f.parts).toString('utf8') })));
      });
    });
  }

  /** Calls onInfo on every update; `done` rejects with the stream's error (NOT_FOUND, UNAVAILABLE, ...). */
  watchCampaign(id: string, onInfo: (info: CampaignInfo) => void): WatchHandle {
    const call = this.stream('WatchCampaign', { campaignId: id });
    let cancelled = false;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (w: WireObject) => {
        try {
          onInfo(campaignFromWire(w));
        } catch (e) {
          call.cancel();
          reject(e);
        }
      });
      call.on('error', (err: grpc.ServiceError) => (cancelled && err.code === grpc.status.CANCELLED ? resolve() : reject(err)));
      call.on('end', () => resolve());
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
    };
  }

  close(): void {
    this.client.close();
  }
}

// Per-method (de)serializers from the same definitions the server uses.
const DEF = serviceDefinition() as unknown as Record<string, grpc.MethodDefinition<WireObject, WireObject>>;

function serializer(method: string): (v: WireObject) => Buffer {
  return DEF[method]!.requestSerialize;
}

function deserializer(method: string): (b: Buffer) => WireObject {
  return DEF[method]!.responseDeserialize;
}

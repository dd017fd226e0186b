// Test-side gRPC tools that do not go through FoliofuzzClient: the standard
// health check, server reflection, and raw calls that send arbitrary bytes
// (to check how the server takes malformed requests).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type AnyClientCtor = new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, unknown>;

function loadClient(file: string, service: string): AnyClientCtor {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true, enums: String }));
  let node: unknown = pkg;
  for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
  return node as AnyClientCtor;
}

/** The health status of `service` ('' for the server as a whole). */
export function healthCheck(address: string, service = ''): Promise<string> {
  const Health = loadClient(healthProtoPath, 'grpc.health.v1.Health');
  const client = new Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const check = client['Check'] as (req: object, opts: object, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void) => void;
    check.call(client, { service }, { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res!.status);
    });
  });
}

const REFLECTION_PROTO = join(dirname(fileURLToPath(import.meta.resolve('@grpc/reflection'))), '..', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');

/** The service names server reflection (v1) lists. */
export function reflectionServices(address: string): Promise<string[]> {
  const Reflection = loadClient(REFLECTION_PROTO, 'grpc.reflection.v1.ServerReflection');
  const client = new Reflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const open = client['ServerReflectionInfo'] as (opts: object) => grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>;
    const call = open.call(client, { deadline: Date.now() + 10_000 });
    call.on('data', (res) => {
      resolve((res.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
      call.end();
    });
    call.on('error', reject);
    call.on('end', () => client.close());
    call.write({ list_services: '' });
  });
}

/** One unary call with raw request bytes; resolves with the status (and raw response). */
export function rawUnary(address: string, method: string, body: Buffer, metadata = new grpc.Metadata()):
  Promise<{ code: grpc.status; details: string; response?: Buffer }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(`/foliofuzz.v1.Foliofuzz/${method}`, (b) => b, (b) => b, body, metadata,
      { deadline: Date.now() + 10_000 }, (err, res) => {
        client.close();
        if (err) resolve({ code: err.code, details: err.details });
        else resolve({ code: grpc.status.OK, details: '', ...(res ? { response: res } : {}) });
      });
  });
}

/** A server-streaming call with raw request bytes; resolves with the final status and how many messages came. */
export function rawStream(address: string, method: string, body: Buffer, metadata = new grpc.Metadata()):
  Promise<{ code: grpc.status; details: string; messages: number }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    let messages = 0;
    const call = client.makeServerStreamRequest<Buffer, Buffer>(`/foliofuzz.v1.Foliofuzz/${method}`, (b) => b, (b) => b, body, metadata,
      { deadline: Date.now() + 10_000 });
    call.on('data', () => messages++);
    call.on('error', (err: grpc.ServiceError) => {
      client.close();
      resolve({ code: err.code, details: err.details, messages });
    });
    call.on('end', () => {
      client.close();
      resolve({ code: grpc.status.OK, details: '', messages });
    });
  });
}

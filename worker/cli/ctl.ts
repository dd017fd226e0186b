// `foliofuzz ctl`: drive a coordinator over its gRPC API.
//
//   ctl --server HOST:PORT [--token T] [--tls | --tls-ca FILE] [--tls-cert F --tls-key F] ...
//     campaigns create [--bugs a,b] [--duration SECONDS] [--name NAME] [--seed N] [--kernel-confirm [RUNS]]
//                      [--kernel [--configs xfs:1024,...]]   prints the id
//     campaigns list | show ID | stop ID | resume ID
//     findings list CAMPAIGN | show FINDING
//     repro download FINDING --format json|text|xfs_io|c|fsx|report [-o FILE]
//     watch CAMPAIGN                  live stats until the campaign stops or finishes
//
// Listings take --json (one JSON document on stdout; `watch --json` writes one
// per update, a line each). Exit codes: 0 ok; 1 the server refused (NOT_FOUND,
// FAILED_PRECONDITION, INTERNAL ...); 2 bad usage or INVALID_ARGUMENT; 3 cannot
// connect (UNAVAILABLE, DEADLINE_EXCEEDED) or UNAUTHENTICATED.

import { readFileSync, writeFileSync } from 'node:fs';
import type { ServiceError } from '@grpc/grpc-js';
import { Command, Option } from 'commander';
import type { CampaignInfo, FindingInfo } from '../../coordinator/api.js';
import type { FoliofuzzClient, GrpcClientOptions } from '../../coordinator/grpc-client.js';
import { ProgramInputError } from '../prog/errors.js';
import { MAX_KERNEL_CONFIRM_RUNS } from '../report/kernel-verdict.js';
import { EXPORT_FORMATS, type ExportFormat } from '../repro/export.js';
import { parseBugList } from './bugs.js';
import { ALL_TWIN_CONFIGS, configName } from '../twin/configs.js';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

export const CTL_EXIT_HELP = `
Exit codes:
  0  ok
  1  the server refused the request (NOT_FOUND, FAILED_PRECONDITION, INTERNAL, ...); its message on stderr
  2  bad usage, or the server said INVALID_ARGUMENT
  3  cannot connect (UNAVAILABLE, DEADLINE_EXCEEDED) or UNAUTHENTICATED (missing or wrong --token)

The token may also come from the FOLIOFUZZ_TOKEN environment variable.`;

interface ConnOpts {
  server: string;
  token?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  timeout?: string;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ProgramInputError(`${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function clientOptions(o: ConnOpts): GrpcClientOptions {
  if (!/^[^\s:]+:\d{1,5}$/.test(o.server) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(o.server)) {
    throw new ProgramInputError(`--server: '${o.server}' is not HOST:PORT`);
  }
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new ProgramInputError('--tls-cert and --tls-key go together');
  const token = o.token ?? process.env['FOLIOFUZZ_TOKEN'];
  const timeoutMs = o.timeout === undefined ? undefined : Number(o.timeout) * 1000;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new ProgramInputError(`--timeout: '${o.timeout}' is not a positive number of seconds`);
  const withTls = o.tls === true || o.tlsCa !== undefined || o.tlsCert !== undefined;
  return {
    address: o.server,
    ...(token !== undefined && token !== '' ? { token } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(withTls
      ? {
        tls: {
          ...(o.tlsCa !== undefined ? { ca: readPem('--tls-ca', o.tlsCa) } : {}),
          ...(o.tlsCert !== undefined ? { cert: readPem('--tls-cert', o.tlsCert) } : {}),
          ...(o.tlsKey !== undefined ? { key: readPem('--tls-key', o.tlsKey) } : {}),
        },
      }
      : {}),
  };
}

/** A gRPC status as an exit code (and its message on stderr). */
function statusExit(err: ServiceError, server: string, status: typeof import('@grpc/grpc-js').status): number {
  const name = status[err.code] ?? String(err.code);
  switch (err.code) {
    case status.INVALID_ARGUMENT:
      process.stderr.write(`invalid argument: ${err.details}\n`);
      return EXIT_USAGE;
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      process.stderr.write(`cannot reach the coordinator at ${server}: ${name}: ${err.details}\n`);
      return EXIT_UNREACHABLE;
    case status.UNAUTHENTICATED:
      process.stderr.write(`unauthenticated: ${err.details} (give --token or FOLIOFUZZ_TOKEN)\n`);
      return EXIT_UNREACHABLE;
    default:
      process.stderr.write(`${name}: ${err.details}\n`);
      return EXIT_REFUSED;
  }
}

/** Connect, run, map every failure to its exit code. gRPC loads only here, so other commands start fast. */
async function withClient(cmd: Command, body: (c: FoliofuzzClient) => Promise<number>): Promise<void> {
  const conn = cmd.optsWithGlobals<ConnOpts>();
  const { status } = await import('@grpc/grpc-js');
  const { FoliofuzzClient, isServiceError } = await import('../../coordinator/grpc-client.js');
  let client: FoliofuzzClient | undefined;
  try {
    client = new FoliofuzzClient(clientOptions(conn));
    process.exitCode = await body(client);
  } catch (e) {
    if (e instanceof ProgramInputError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else if (isServiceError(e)) {
      process.exitCode = statusExit(e, conn.server, status);
    } else if (e instanceof Error) {
      // A reply we cannot use (a download cut short, say): say so, no stack trace.
      process.stderr.write(`${e.message}\n`);
      process.exitCode = EXIT_REFUSED;
    } else {
      throw e;
    }
  } finally {
    client?.close();
  }
}

function json(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n');
}

function duration(c: CampaignInfo): string {
  return `${c.elapsedSec.toFixed(0)}s` + (c.durationSec !== undefined ? `/${c.durationSec}s` : '');
}

function campaignRows(cs: CampaignInfo[]): string[][] {
  return [
    ['ID', 'NAME', 'STATE', 'EXECS', 'EXECS/S', 'CORPUS', 'COVERAGE', 'FINDINGS', 'WORKERS', 'TIME', 'BUGS'],
    ...cs.map((c) => [c.id, c.name, c.state, String(c.execs), c.execsPerSec.toFixed(0), String(c.corpus), String(c.coverage),
      String(c.findings), String(c.workers), duration(c), c.bugs.join(',') || '-']),
  ];
}

function showCampaign(c: CampaignInfo): void {
  const lines: [string, string][] = [
    ['id', c.id], ['name', c.name], ['state', c.state], ['bugs', c.bugs.join(',') || '-'], ['created', c.createdAt],
    ['time', duration(c)], ['execs', `${c.execs} (${c.execsPerSec.toFixed(0)}/s)`], ['corpus', String(c.corpus)],
    ['coverage', String(c.coverage)], ['findings', String(c.findings)], ['workers', String(c.workers)],
    ...(c.kernelConfirm ? [['kernel', c.kernelConfirm.status.replace(/^kernel confirmation: /, '')] as [string, string]] : []),
    ...(c.kernel ? [['twin', c.kernel.status.replace(/^kernel campaign: /, '')] as [string, string]] : []),
  ];
  for (const [k, v] of lines) process.stdout.write(`${k.padEnd(9)} ${v}\n`);
  if (c.kernel) {
    process.stdout.write('\n');
    table([
      ['CONFIG', 'PROGRAMS', 'PROGRAMS/S', 'DIVERGENCES', 'PER MILLION', 'KERNEL VIOLATIONS', 'EXPLAINED'],
      ...c.kernel.configs.map((k) => [k.config, String(k.programs), k.programsPerSec.toFixed(1), String(k.divergences),
        k.divergencesPerMillion.toFixed(0), String(k.kernelViolations), String(k.explained)]),
    ]);
  }
}

/** A finding's kernel verdict in a table cell: "reproduces 5/5", "not reproduced 0/5", "cannot run", or "-". */
function kernelCell(f: FindingInfo): string {
  const k = f.kernel;
  if (!k) return '-';
  return k.verdict === 'cannot-run' ? 'cannot run' : `${k.verdict.replace('-', ' ')} ${k.hits}/${k.runs}`;
}

function showFinding(f: FindingInfo): void {
  const lines: [string, string][] = [
    ['id', f.id], ['campaign', f.campaignId], ['signature', f.signature], ['message', f.message],
    ['hits', `${f.count}, first after ${f.firstFoundSec.toFixed(1)}s (execution ${f.firstFoundExec}), last after ${f.lastFoundSec.toFixed(1)}s`],
    ['reproducer', f.minimized ? `minimized ${f.opsBefore} -> ${f.opsAfter} ops` : `${f.opsBefore} ops, not minimized`],
    ['bug', f.bug], ['switches', f.switchesKnown ? f.switches.join(', ') || 'none: it fires with every switch off' : 'not attributed yet'],
    ['kernel', f.kernel ? f.kernel.text : 'no verdict (the campaign does not ask for one, or it has not come yet)'],
  ];
  for (const [k, v] of lines) process.stdout.write(`${k.padEnd(10)} ${v}\n`);
}

/** The campaign a finding id names (`<campaign id>-<sha12>`). */
function findingCampaign(id: string): string {
  const m = /^(c-[0-9a-f]{8})-[0-9a-f]{12}$/.exec(id);
  if (!m) throw new ProgramInputError(`'${id}' is not a finding id (c-1a2b3c4d-0123456789ab; see: findings list CAMPAIGN)`);
  return m[1]!;
}

function findingRows(fs: FindingInfo[]): string[][] {
  return [
    ['ID', 'INVARIANT', 'COUNT', 'FIRST', 'MINIMIZED', 'OPS', 'SWITCHES', 'KERNEL', 'SIGNATURE'],
    ...fs.map((f) => [f.id, f.invariant, String(f.count), `${f.firstFoundSec.toFixed(1)}s`, f.minimized ? 'yes' : 'no',
      f.minimized ? `${f.opsBefore}->${f.opsAfter}` : String(f.opsBefore), f.switchesKnown ? f.switches.join(',') || 'none' : '?', kernelCell(f), f.signature]),
  ];
}

function progressLine(c: CampaignInfo): string {
  return `${c.id} ${c.state}  ${duration(c)}  execs ${c.execs}  ${c.execsPerSec.toFixed(0)}/s  corpus ${c.corpus}  ` +
    `coverage ${c.coverage}  findings ${c.findings}  workers ${c.workers}`;
}

/** Until the stream ends (the campaign left `running`) or Ctrl-C. */
async function watch(client: FoliofuzzClient, id: string, asJson: boolean): Promise<number> {
  const tty = process.stdout.isTTY === true && !asJson;
  const handle = client.watchCampaign(id, (c) => {
    if (asJson) process.stdout.write(JSON.stringify(c) + '\n');
    else if (tty) process.stdout.write(`\r\x1b[K${progressLine(c)}`);
    else process.stdout.write(progressLine(c) + '\n');
  });
  const onSigint = (): void => handle.cancel();
  process.once('SIGINT', onSigint);
  try {
    await handle.done;
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (tty) process.stdout.write('\n');
  }
  return EXIT_OK;
}

function parseDuration(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ProgramInputError(`--duration: '${v}' is not a number of seconds`);
  return n;
}

function parseSeed(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new ProgramInputError(`--seed: '${v}' is not an integer from 0 to 4294967295`);
  return Number(v);
}

/** --kernel [--configs a,b]: the config names to send (the coordinator validates them); --kernel alone: every config. */
function parseKernelConfigs(kernel: boolean | undefined, configs: string | undefined): string[] | undefined {
  if (!kernel) {
    if (configs !== undefined) throw new ProgramInputError('--configs: only with --kernel (the configs of a kernel campaign)');
    return undefined;
  }
  if (configs === undefined) return ALL_TWIN_CONFIGS.map(configName);
  return configs.split(',').map((c) => c.trim()).filter(Boolean);
}

/** --kernel-confirm alone: 100 runs, as `fuzz --kernel-confirm` and `kernel confirm`. */
function parseKernelConfirm(v: string | boolean | undefined): number | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return 100;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_KERNEL_CONFIRM_RUNS) {
    throw new ProgramInputError(`--kernel-confirm: '${v}' is not a number of runs from 1 to ${MAX_KERNEL_CONFIRM_RUNS}`);
  }
  return Number(v);
}

function writeOut(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new ProgramInputError(`-o: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

async function download(client: FoliofuzzClient, finding: string, format: string, out: string | undefined): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new ProgramInputError(`--format: '${format}' is not one of ${EXPORT_FORMATS.join(', ')}`);
  }
  const files = await client.downloadRepro(finding, format as ExportFormat);
  const toStdout = out === undefined || out === '-';
  if (files.length === 1) {
    if (toStdout) process.stdout.write(files[0]!.text);
    else writeOut(out, files[0]!.text);
    return EXIT_OK;
  }
  // Several files (one xfs_io script per thread): -o is the prefix of their names, as with `foliofuzz export`.
  for (const f of files) {
    if (toStdout) {
      process.stdout.write(`==> ${f.name} <==\n${f.text}`);
    } else {
      writeOut(`${out}.${f.name}`, f.text);
      process.stderr.write(`wrote ${out}.${f.name}\n`);
    }
  }
  return EXIT_OK;
}

/** Commander's usage errors (unknown option, missing argument) exit 2 like the rest of the CLI. */
function sub(parent: Command, name: string, description: string): Command {
  return parent.command(name).description(description).exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));
}

export function ctlCommand(): Command {
  const ctl = new Command('ctl')
    .description('talk to a coordinator over gRPC: campaigns, findings, reproducers, live stats')
    .requiredOption('--server <host:port>', "the coordinator's gRPC address")
    .option('--token <token>', 'bearer token (default: $FOLIOFUZZ_TOKEN)')
    .option('--tls', "TLS, trusting the system's root certificates")
    .option('--tls-ca <file>', 'TLS, trusting this CA certificate (PEM)')
    .option('--tls-cert <file>', 'client certificate for mutual TLS (PEM)')
    .option('--tls-key <file>', 'client key for mutual TLS (PEM)')
    .option('--timeout <seconds>', 'deadline of each request', '30')
    .addHelpText('after', CTL_EXIT_HELP)
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

  const campaigns = sub(ctl, 'campaigns', 'create, list, show, stop and resume campaigns').addHelpText('after', CTL_EXIT_HELP);
  sub(campaigns, 'create', "start a campaign; prints its id")
    .option('--bugs <a,b>', "bug switches to turn on ('seed': the seed switches, 'all': every one)")
    .option('--duration <seconds>', 'stop after this long (default: until stopped)')
    .option('--name <name>', 'a name to show in listings')
    .option('--seed <n>', 'campaign seed (default: from the clock)')
    .option('--kernel-confirm [runs]', "run each finding's reproducer on the real kernel of a worker started with --kernel-confirm (default 100 runs)")
    .option('--kernel', 'a kernel campaign: programs on the real kernel and in the sim, on workers started with --kernel')
    .option('--configs <a,b>', 'the kernel campaign\'s filesystem configs, e.g. xfs:1024,ext4:4096 (default: every one)')
    .option('--json', 'print the whole campaign as one JSON document instead of its id')
    .action(async (o: {
      bugs?: string; duration?: string; name?: string; seed?: string; kernelConfirm?: string | boolean; kernel?: boolean; configs?: string; json?: boolean;
    }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const durationSec = parseDuration(o.duration);
        const seed = parseSeed(o.seed);
        const kernelConfirmRuns = parseKernelConfirm(o.kernelConfirm);
        const kernelConfigs = parseKernelConfigs(o.kernel, o.configs);
        const c = await client.createCampaign({
          bugs: [...parseBugList(o.bugs)],
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(durationSec !== undefined ? { durationSec } : {}),
          ...(seed !== undefined ? { seed } : {}),
          ...(kernelConfirmRuns !== undefined ? { kernelConfirmRuns } : {}),
          ...(kernelConfigs !== undefined ? { kernelConfigs } : {}),
        });
        if (o.json) json(c);
        else process.stdout.write(`${c.id}\n`);
        return EXIT_OK;
      });
    });
  sub(campaigns, 'list', 'every campaign with its stats')
    .option('--json', 'one JSON document: {"campaigns": [...]}')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const cs = await client.listCampaigns();
        if (o.json) json({ campaigns: cs });
        else if (cs.length === 0) process.stdout.write('no campaigns\n');
        else table(campaignRows(cs));
        return EXIT_OK;
      });
    });
  for (const [name, description] of [['show', 'one campaign'], ['stop', 'stop a running campaign'], ['resume', 'resume a stopped campaign']] as const) {
    sub(campaigns, name, description)
      .argument('<id>', 'campaign id')
      .option('--json', 'the campaign as one JSON document')
      .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
        await withClient(cmd, async (client) => {
          const c = name === 'show' ? await client.getCampaign(id) : name === 'stop' ? await client.stopCampaign(id) : await client.resumeCampaign(id);
          if (o.json) json(c);
          else if (name === 'show') showCampaign(c);
          else process.stdout.write(`${c.id} ${c.state}\n`);
          return EXIT_OK;
        });
      });
  }

  const findings = sub(ctl, 'findings', "a campaign's verified findings, with their kernel verdicts").addHelpText('after', CTL_EXIT_HELP);
  sub(findings, 'list', "a campaign's verified findings")
    .argument('<campaign>', 'campaign id')
    .option('--json', 'one JSON document: {"findings": [...]}')
    .action(async (campaign: string, o: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const fs = await client.listFindings(campaign);
        if (o.json) json({ findings: fs });
        else if (fs.length === 0) process.stdout.write('no findings\n');
        else table(findingRows(fs));
        return EXIT_OK;
      });
    });
  sub(findings, 'show', 'one verified finding: what it is, its reproducer, its kernel verdict')
    .argument('<finding>', 'finding id (c-1a2b3c4d-0123456789ab)')
    .option('--json', 'the finding as one JSON document')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const f = (await client.listFindings(findingCampaign(id))).find((x) => x.id === id);
        if (!f) {
          process.stderr.write(`NOT_FOUND: no finding ${id}\n`);
          return EXIT_REFUSED;
        }
        if (o.json) json(f);
        else showFinding(f);
        return EXIT_OK;
      });
    });

  const repro = sub(ctl, 'repro', "download a finding's reproducer").addHelpText('after', CTL_EXIT_HELP);
  sub(repro, 'download', "a finding's reproducer in one of the export formats")
    .argument('<finding>', 'finding id')
    .addOption(new Option('--format <format>', EXPORT_FORMATS.join(' | ')).default('json'))
    .option('-o, --out <file>', 'write here instead of stdout (a prefix when there are several files: FILE.<name>)')
    .action(async (finding: string, o: { format: string; out?: string }, cmd: Command) => {
      await withClient(cmd, (client) => download(client, finding, o.format, o.out));
    });

  sub(ctl, 'watch', "a campaign's live stats until it stops or finishes (or Ctrl-C)")
    .argument('<campaign>', 'campaign id')
    .option('--json', 'one JSON document per update, a line each')
    .addHelpText('after', CTL_EXIT_HELP)
    .action(async (campaign: string, o: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, (client) => watch(client, campaign, o.json === true));
    });
  return ctl;
}

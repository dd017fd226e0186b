#!/usr/bin/env node
// The foliofuzz command line. Every usage error of every command exits 2
// (set on the root before the commands are added, so each inherits it);
// 1 is kept for "a violation was found".

import { Command } from 'commander';
import { EXPORT_FORMATS } from '../repro/export.js';
import { bugsCommand } from './bugs.js';
import { addNatsFlags } from './cluster-flags.js';
import { ctlCommand } from './ctl.js';
import { execCommand } from './exec.js';
import { findingsCommand } from './findings.js';
import { fuzzCommand } from './fuzz.js';
import { HELP, versionText } from './help.js';
import { exportCommand, importCommand, minimizeCommand, replayCommand } from './repro.js';
import type { WorkerArgs } from './worker.js';

// A closed pipe (foliofuzz bugs | head) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command();
program.name('foliofuzz').description('A deterministic-simulation fuzzer for the Linux storage stack')
  .version(versionText(), '-V, --version', 'print the version (and the simulator version) and exit')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .addHelpText('after', HELP.root);

program
  .command('exec')
  .description('run one program on the sim and check it; exit 0 clean, 1 on a violation, 2 on bad input, 3 on a harness error')
  .argument('[program]', 'a native program or reproducer (JSON; a reproducer runs with its own switches unless --bugs is given)')
  .option('--xfs-io <script>', 'an xfs_io command script (one -c command per line)')
  .option('--fsx <opsfile>', 'an fsx --record-ops opsfile')
  .option('--direct', "open the script's file with O_DIRECT, like xfs_io -d")
  .option('--fs <fs>', 'ext4 | ext4-indirect | xfs | fuse')
  .option('--block-size <n>', 'filesystem block size: 1024, 2048 or 4096')
  .option('--folio-max <n>', 'largest folio in bytes: 4096 .. 65536')
  .option('--dump-dir <dir>', "write each file's final contents to DIR/<name>")
  .option('--trace', 'print every op and its result')
  .option('--bugs <a,b>', 'turn these bug switches on (see: foliofuzz bugs)')
  .addHelpText('after', HELP.exec)
  .action((prog: string | undefined, opts: Record<string, string | boolean | undefined>) => {
    process.exitCode = execCommand({
      program: prog,
      xfsIo: opts['xfsIo'] as string | undefined,
      fsx: opts['fsx'] as string | undefined,
      direct: opts['direct'] === true,
      fs: opts['fs'] as string | undefined,
      blockSize: opts['blockSize'] as string | undefined,
      folioMax: opts['folioMax'] as string | undefined,
      dumpDir: opts['dumpDir'] as string | undefined,
      trace: opts['trace'] === true,
      bugs: opts['bugs'] as string | undefined,
    });
  });

program
  .command('bugs')
  .description('list the bug switches: name, state, layer, year, description')
  .option('--json', 'one JSON document: name, layer, year, source, description, benign, implemented')
  .addHelpText('after', HELP.bugs)
  .action((opts: { json?: boolean }) => {
    process.exitCode = bugsCommand(opts.json === true);
  });

program
  .command('fuzz')
  .description('an embedded campaign: coordinator and worker threads in one process')
  .option('--bugs <a,b>', "bug switches to turn on ('seed': the six seed switches, 'all': every one)")
  .option('--workers <n>', 'worker threads', '2')
  .option('--duration <seconds>', 'stop after this long')
  .option('--seed <n>', 'campaign seed (default: from the clock)')
  .option('--store <dir>', 'corpus, findings and reproducers go here (default: a new foliofuzz-store/run-<n>)')
  .option('--append', 'add to a --store that holds an earlier run (its findings and this run\'s are then listed together)')
  .option('--until-found <n>', 'stop once this many distinct signatures were found')
  .option('--max-execs <n>', 'stop after this many executions')
  .option('--json', 'one JSON document on stdout at the end')
  .option('--no-feedback', 'baseline: blind generation, no coverage-guided corpus')
  .option('--no-scenes', "generate without the scenes: the op mix alone (what the search finds then, no one aimed it at)")
  .option('--no-alias-coverage', 'feedback without alias pairs (two contexts meeting on a folio, i_size, extent map or i_dio_count), and one program in four a mutant, not one in two')
  .option('--schedule <strategy>', 'force every multi-threaded program onto this strategy (random, pct)')
  .option('--no-minimize', 'store first programs as found, without minimizing them')
  .option('--kernel', "a kernel campaign: each program on this machine's kernel and in the sim, compared and judged (root)")
  .option('--configs <list>', 'with --kernel: the filesystem configs (default: every one: xfs, ext4, ext4-indirect, fuse at 1024, 2048, 4096)')
  .option('--kernel-confirm [runs]', "run each finding's reproducer on this machine's kernel (root; default 100 runs) and keep the verdict")
  .option('--http <host:port>', 'serve the dashboard here while the campaign runs (port 0: a free one)')
  .option('--token <token>', "the dashboard's bearer token (a browser: any user name, the token as password)")
  .addHelpText('after', HELP.fuzz)
  .action(async (opts: Record<string, string | boolean | undefined>) => {
    const run = opts['kernel'] === true ? (await import('./fuzz-kernel.js')).kernelFuzzCommand : fuzzCommand;
    process.exitCode = await run({
      configs: opts['configs'] as string | undefined,
      bugs: opts['bugs'] as string | undefined,
      workers: opts['workers'] as string | undefined,
      duration: opts['duration'] as string | undefined,
      seed: opts['seed'] as string | undefined,
      store: opts['store'] as string | undefined,
      append: opts['append'] === true,
      untilFound: opts['untilFound'] as string | undefined,
      maxExecs: opts['maxExecs'] as string | undefined,
      json: opts['json'] === true,
      feedback: opts['feedback'] !== false,
      scenes: opts['scenes'] !== false,
      aliasCoverage: opts['aliasCoverage'] !== false,
      schedule: opts['schedule'] as string | undefined,
      minimize: opts['minimize'] !== false,
      kernelConfirm: opts['kernelConfirm'] as string | boolean | undefined,
      http: opts['http'] as string | undefined,
      token: opts['token'] as string | undefined,
    });
  });

program
  .command('findings')
  .description("list a store's findings: what each means, the switches it needs, its reproducer, and what to do next")
  .option('--store <dir>', 'an embedded store, a directory of runs, or a coordinator store', 'foliofuzz-store')
  .option('--json', 'one JSON document: {"runs": [{..., "findings": [...]}]}')
  .addHelpText('after', HELP.findings)
  .action((opts: { store?: string; json?: boolean }) => {
    process.exitCode = findingsCommand(opts);
  });

program
  .command('dashboard')
  .description('serve the dashboard of a store on disk (campaigns, charts, findings, traces, downloads)')
  .option('--store <dir>', 'an embedded store, a directory of runs, or a coordinator store', 'foliofuzz-store')
  .option('--http <host:port>', 'where to serve it', '127.0.0.1:8080')
  .option('--token <token>', 'require this bearer token (a browser: any user name, the token as password)')
  .addHelpText('after', HELP.dashboard)
  .action(async (opts: { store: string; http: string; token?: string }) => {
    const { dashboardCommand } = await import('./dashboard.js');
    process.exitCode = await dashboardCommand(opts);
  });

program
  .command('replay')
  .description('run a reproducer; exit 1 and its signature if it reproduces, 0 if not')
  .argument('<repro>', 'a reproducer (or a bare program) in native JSON')
  .option('--bugs <a,b>', "bug switches (default: the reproducer's own)")
  .addHelpText('after', HELP.replay)
  .action((path: string, opts: { bugs?: string }) => {
    process.exitCode = replayCommand(path, opts);
  });

program
  .command('minimize')
  .description('minimize a program that hits a violation; writes a reproducer (native JSON)')
  .argument('<program>', 'a program or reproducer in native JSON')
  .option('--bugs <a,b>', "bug switches (default: the reproducer's own)")
  .option('--max-runs <n>', 'execution budget')
  .option('-o, --out <file>', 'write the reproducer here instead of stdout')
  .addHelpText('after', HELP.minimize)
  .action(async (path: string, opts: { bugs?: string; out?: string; maxRuns?: string }) => {
    process.exitCode = await minimizeCommand(path, opts);
  });

program
  .command('export')
  .description('convert a reproducer: json, text (trace), xfs_io, c (pthreads), fsx, report (a bug report)')
  .argument('<repro>', 'a reproducer in native JSON')
  .option('--format <format>', EXPORT_FORMATS.join(' | '), 'json')
  .option('-o, --out <file>', 'write here instead of stdout (a prefix when there are several files)')
  .option('--bugs <a,b>', "bug switches for the trace (default: the reproducer's own)")
  .addHelpText('after', HELP.export)
  .action((path: string, opts: { format?: string; out?: string; bugs?: string }) => {
    process.exitCode = exportCommand(path, opts);
  });

program
  .command('import')
  .description('convert an xfs_io script or an fsx opsfile into a native program')
  .option('--xfs-io <script>', 'an xfs_io command script')
  .option('--fsx <opsfile>', 'an fsx --record-ops opsfile')
  .option('--direct', 'open the file with O_DIRECT, like xfs_io -d')
  .option('--fs <fs>', 'ext4 | ext4-indirect | xfs | fuse')
  .option('--block-size <n>', 'filesystem block size')
  .option('--folio-max <n>', 'largest folio in bytes')
  .option('-o, --out <file>', 'write here instead of stdout')
  .addHelpText('after', HELP.import)
  .action((opts: Record<string, string | boolean | undefined>) => {
    process.exitCode = importCommand({
      xfsIo: opts['xfsIo'] as string | undefined,
      fsx: opts['fsx'] as string | undefined,
      direct: opts['direct'] === true,
      fs: opts['fs'] as string | undefined,
      blockSize: opts['blockSize'] as string | undefined,
      folioMax: opts['folioMax'] as string | undefined,
      out: opts['out'] as string | undefined,
    });
  });

addNatsFlags(program
  .command('coordinator')
  .description('cluster coordinator: campaigns, corpus, triage and minimization over NATS JetStream; HTTP metrics and downloads; gRPC API'))
  .requiredOption('--grpc <host:port>', 'gRPC API address')
  .requiredOption('--http <host:port>', 'HTTP address: the dashboard (/), /metrics, /healthz, /readyz, /findings/<id>/repro')
  .requiredOption('--store <dir>', 'campaigns, corpus, findings and reproducers (DIR/campaigns/<id>/...)')
  .option('--token <token>', 'bearer token the API and the downloads require')
  .option('--batch-ms <ms>', 'wall time of one work batch on a worker', '1000')
  .option('--kernel-batch-programs <n>', "programs in one kernel campaign batch (default 200)")
  .option('--grpc-tls-cert <file>', 'serve gRPC over TLS with this certificate (PEM; with --grpc-tls-key)')
  .option('--grpc-tls-key <file>', "the certificate's private key (PEM)")
  .option('--grpc-tls-ca <file>', 'also require gRPC client certificates signed by this CA (mutual TLS)')
  .action(async (opts: Record<string, string | undefined>) => {
    // Loaded on demand: gRPC, NATS and prom-client would add ~0.5 s to every other command's start-up.
    const { coordinatorCommand } = await import('./coordinator.js');
    process.exitCode = await coordinatorCommand(opts);
  });

addNatsFlags(program
  .command('worker')
  .description('cluster worker: pulls work batches and verify/minimize jobs from NATS JetStream and runs them'))
  .option('--procs <n>', 'executor threads (default: the number of CPUs)')
  .option('--metrics <host:port>', 'serve Prometheus /metrics here')
  .option('--kernel-confirm', "also run kernel confirmations of campaigns that ask for them, on this machine's kernel (root)")
  .option('--kernel', "also run kernel campaigns' batches on this machine's kernel and in the sim (root)")
  .action(async (opts: WorkerArgs) => {
    const { workerCommand } = await import('./worker.js');
    process.exitCode = await workerCommand(opts);
  });

const kernel = program.command('kernel').description('the kernel twin: programs on this machine\'s real kernel');
kernel
  .command('confirm')
  .description('run a reproducer N times on a real filesystem made to its config; exit 0 not reproduced, 1 reproduces, 2 bad input, 3 cannot run here')
  .argument('<repro>', 'a reproducer (repro.json) or a program (JSON)')
  .option('--runs <n>', 'how many runs', '100')
  .option('--dir <dir>', 'run on this existing directory (its filesystem must match the config) instead of a loop mount of our own')
  .option('--keep', 'leave the loop mount in place afterwards, as the runs left it (it says where and how to remove it)')
  .option('--seed <n>', 'seeds the jitter of the later runs', '1')
  .option('--json', 'the verdict as one JSON document')
  .option('--report <file>', 'write a bug report for a mailing list here, with the verdict and the kernel\'s log in it')
  .action(async (repro: string, opts: Record<string, string | boolean | undefined>) => {
    const { kernelConfirmCommand } = await import('./kernel.js');
    process.exitCode = await kernelConfirmCommand({
      repro, runs: opts['runs'] as string | undefined, dir: opts['dir'] as string | undefined, keep: opts['keep'] === true,
      seed: opts['seed'] as string | undefined, json: opts['json'] === true,
      ...(typeof opts['report'] === 'string' ? { report: opts['report'] } : {}),
    });
  });

program.addCommand(ctlCommand());

await program.parseAsync();

#!/usr/bin/env node
// The foliofuzz command line.

import { Command } from 'commander';
import { bugsCommand } from './bugs.js';
import { addNatsFlags } from './cluster-flags.js';
import { ctlCommand } from './ctl.js';
import { execCommand } from './exec.js';
import { fuzzCommand } from './fuzz.js';
import { exportCommand, importCommand, minimizeCommand, replayCommand } from './repro.js';

// A closed pipe (foliofuzz bugs | head) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command();
program.name('foliofuzz').description('A deterministic-simulation fuzzer for the Linux storage stack').showHelpAfterError();

program
  .command('exec')
  .description('run one program on the sim and check it; exit 0 clean, 1 on a violation, 2 on bad input')
  .argument('[program]', 'a native program (JSON)')
  .option('--xfs-io <script>', 'an xfs_io command script (one -c command per line)')
  .option('--fsx <opsfile>', 'an fsx --record-ops opsfile')
  .option('--direct', "open the script's file with O_DIRECT, like xfs_io -d")
  .option('--fs <fs>', 'ext4 | ext4-indirect | xfs | fuse')
  .option('--block-size <n>', 'filesystem block size: 1024, 2048 or 4096')
  .option('--folio-max <n>', 'largest folio in bytes: 4096 .. 65536')
  .option('--dump-dir <dir>', "write each file's final contents to DIR/<name>")
  .option('--trace', 'print every op and its result')
  .option('--bugs <a,b>', 'turn these bug switches on (see: foliofuzz bugs)')
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
  .option('--store <dir>', 'corpus, findings and reproducers go here', 'foliofuzz-store')
  .option('--until-found <n>', 'stop once this many distinct signatures were found')
  .option('--max-execs <n>', 'stop after this many executions')
  .option('--json', 'one JSON document on stdout at the end')
  .option('--no-feedback', 'baseline: blind generation, no coverage-guided corpus')
  .option('--schedule <strategy>', 'force every multi-threaded program onto this strategy (random, pct)')
  .option('--no-minimize', 'store first programs as found, without minimizing them')
  .action(async (opts: Record<string, string | boolean | undefined>) => {
    process.exitCode = await fuzzCommand({
      bugs: opts['bugs'] as string | undefined,
      workers: opts['workers'] as string | undefined,
      duration: opts['duration'] as string | undefined,
      seed: opts['seed'] as string | undefined,
      store: opts['store'] as string | undefined,
      untilFound: opts['untilFound'] as string | undefined,
      maxExecs: opts['maxExecs'] as string | undefined,
      json: opts['json'] === true,
      feedback: opts['feedback'] !== false,
      schedule: opts['schedule'] as string | undefined,
      minimize: opts['minimize'] !== false,
    });
  });

program
  .command('replay')
  .description('run a reproducer; exit 1 and its signature if it reproduces, 0 if not')
  .argument('<repro>', 'a reproducer (or a bare program) in native JSON')
  .option('--bugs <a,b>', "bug switches (default: the reproducer's own)")
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
  .action((path: string, opts: { bugs?: string; out?: string; maxRuns?: string }) => {
    process.exitCode = minimizeCommand(path, opts);
  });

program
  .command('export')
  .description('convert a reproducer: json, text (trace), xfs_io, c (pthreads), fsx')
  .argument('<repro>', 'a reproducer in native JSON')
  .option('--format <format>', 'json | text | xfs_io | c | fsx', 'json')
  .option('-o, --out <file>', 'write here instead of stdout (a prefix when there are several files)')
  .option('--bugs <a,b>', "bug switches for the trace (default: the reproducer's own)")
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
  .requiredOption('--http <host:port>', 'HTTP address: /metrics, /healthz, /readyz, /findings/<id>/repro')
  .requiredOption('--store <dir>', 'campaigns, corpus, findings and reproducers (DIR/campaigns/<id>/...)')
  .option('--token <token>', 'bearer token the API and the downloads require')
  .option('--batch-ms <ms>', 'wall time of one work batch on a worker', '1000')
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
  .action(async (opts: Record<string, string | undefined>) => {
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
  .option('--seed <n>', 'seeds the jitter of the later runs', '1')
  .option('--json', 'the verdict as one JSON document')
  .action(async (repro: string, opts: Record<string, string | boolean | undefined>) => {
    const { kernelConfirmCommand } = await import('./kernel.js');
    process.exitCode = await kernelConfirmCommand({
      repro, runs: opts['runs'] as string | undefined, dir: opts['dir'] as string | undefined,
      seed: opts['seed'] as string | undefined, json: opts['json'] === true,
    });
  });

program.addCommand(ctlCommand());

program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
await program.parseAsync();

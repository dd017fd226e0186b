#!/usr/bin/env node
// The foliofuzz command line.

import { Command } from 'commander';
import { bugsCommand } from './bugs.js';
import { execCommand } from './exec.js';

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

program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
program.parse();

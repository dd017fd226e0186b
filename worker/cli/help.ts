// The text `--help` adds after each command's options: examples and exit
// codes. Every command's usage errors exit 2 (main.ts), so the exit codes
// below are the same words everywhere.

import { readFileSync } from 'node:fs';
import { SIM_VERSION } from '../sim/version.js';

/** `foliofuzz --version`: the package's version and the simulator's behaviour version. */
export function versionText(): string {
  let version = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  } catch {
    // A tree without its package.json still says which simulator it is.
  }
  return `foliofuzz ${version} (${SIM_VERSION}, node ${process.version})`;
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

const RUN_EXITS = `
Exit codes:
  0  clean: no violation
  1  a violation (the last line is "signature: <sig>")
  2  bad input or usage (a malformed script line is reported as FILE:LINE: reason)
  3  harness error: a bug in the simulator itself, not a kernel finding
`;

const TOOL_EXITS = `
Exit codes:
  0  done
  2  bad input or usage
`;

export const HELP = {
  root: examples([
    'foliofuzz fuzz --bugs seed --duration 300 --http 127.0.0.1:8080   a 5-minute campaign with its dashboard',
    'foliofuzz findings                                                what the store found, and what to do next',
    'foliofuzz export foliofuzz-store/run-1/findings/ID/repro.json --format report',
    'foliofuzz exec corpus/known/set-uptodate-during-read.json --bugs set-uptodate-during-read --trace',
  ]) + '\nEvery command takes --help. Usage errors exit 2.\n',
  exec: examples([
    'foliofuzz exec --xfs-io corpus/seeds/quickstart.xfs-io --trace',
    'foliofuzz exec --xfs-io corpus/seeds/quickstart.xfs-io --fs ext4 --block-size 1024',
    'foliofuzz exec corpus/known/mkwrite-ifs-zeroed.json --bugs mkwrite-ifs-zeroed',
    'foliofuzz exec foliofuzz-store/run-1/findings/ID/repro.json      a reproducer runs with its own switches',
  ]) + RUN_EXITS,
  fuzz: examples([
    'foliofuzz fuzz --bugs seed --duration 300                  each run gets foliofuzz-store/run-<n>',
    'foliofuzz fuzz --bugs seed --duration 300 --http 127.0.0.1:8080   with a dashboard in the browser',
    'foliofuzz fuzz --bugs all --until-found 3 --store my-store',
    'foliofuzz fuzz --seed 7 --workers 1 --max-execs 20000 --json      a run that is a function of its seed',
  ]) + `
Exit codes:
  0  the campaign ran (findings or not: see the listing at the end)
  2  bad flags, or --store holds an earlier run (add --append to add to it)
  3  the simulator itself failed (harness errors, counted apart from findings)
`,
  findings: examples([
    'foliofuzz findings                       every run under foliofuzz-store/',
    'foliofuzz findings --store my-store --json',
  ]) + TOOL_EXITS,
  dashboard: examples([
    'foliofuzz dashboard                      the runs under foliofuzz-store/ on http://127.0.0.1:8080/',
    'foliofuzz dashboard --store coordinator-store --http 0.0.0.0:8080 --token "$TOKEN"',
  ]) + TOOL_EXITS,
  replay: examples([
    'foliofuzz replay foliofuzz-store/run-1/findings/ID/repro.json',
    'foliofuzz replay first.json --bugs set-uptodate-during-read    a bare program needs its switches named',
  ]) + RUN_EXITS,
  minimize: examples([
    'foliofuzz minimize foliofuzz-store/run-1/findings/ID/first.json --bugs seed -o small.json',
  ]) + TOOL_EXITS,
  export: examples([
    'foliofuzz export repro.json --format report -o report.txt   a bug report for a mailing list',
    'foliofuzz kernel confirm repro.json --runs 100              does this machine\'s kernel have the bug?',
    'foliofuzz export repro.json --format c -o repro.c           then: gcc -pthread repro.c && ./a.out /mnt',
    'foliofuzz export repro.json --format xfs_io -o script       one script per thread: script.xfs_io-tN.txt',
  ]) + TOOL_EXITS,
  import: examples(['foliofuzz import --xfs-io script.txt --fs ext4 -o program.json']) + TOOL_EXITS,
  bugs: examples(['foliofuzz bugs', 'foliofuzz bugs --json']) + TOOL_EXITS,
};

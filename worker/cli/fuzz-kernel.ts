// `foliofuzz fuzz --kernel [--configs xfs:1024,...]`: a kernel campaign. The
// generator's programs run on this machine's real kernel and in the sim, one
// loop mount per config (worker/twin/kernel-campaign.ts). Progress on stderr;
// at the end a table per config (programs, each side's programs per second,
// what came of them) and the store's findings listing. Needs root (loop
// devices, mount); a machine where that is not so gets exit 3 and why.

import { ProgramInputError } from '../prog/errors.js';
import { ALL_TWIN_CONFIGS, parseTwinConfigs } from '../twin/configs.js';
import { type ConfigStats, type KernelCampaignEvent, type KernelCampaignStats, runKernelCampaign } from '../twin/kernel-campaign.js';
import { ProvisionError } from '../twin/provision.js';
import { plural } from '../repro/words.js';
import { readRun } from '../../coordinator/dashboard/stored.js';
import { listingLines } from './findings.js';
import { type FuzzArgs, chooseStore, count } from './fuzz.js';

/** Flags that mean something only to a sim campaign: refused, not ignored. */
const SIM_ONLY: readonly (readonly [keyof FuzzArgs, string])[] = [
  ['bugs', '--bugs (a kernel campaign runs the sim with every switch off: the fixed kernel)'],
  ['schedule', '--schedule'], ['kernelConfirm', '--kernel-confirm (every finding of a kernel campaign is the kernel\'s)'],
  ['http', '--http'], ['untilFound', '--until-found'], ['feedback', '--no-feedback'], ['scenes', '--no-scenes'],
  ['aliasCoverage', '--no-alias-coverage'],
];

function refuseSimOnly(args: FuzzArgs): void {
  for (const [key, flag] of SIM_ONLY) {
    const on = key === 'feedback' || key === 'scenes' || key === 'aliasCoverage' ? args[key] === false : args[key] !== undefined && args[key] !== false;
    if (on) throw new ProgramInputError(`--kernel: ${flag} is not for a kernel campaign`);
  }
  if (args.workers !== undefined && args.workers !== '2') { // commander's default is '2'
    throw new ProgramInputError('--kernel: --workers is not for a kernel campaign (it runs one program at a time on the kernel)');
  }
}

/** "xfs:1024  40 programs (31 sequential)  kernel 12.0/s  sim 140/s  ..." */
export function configLine(s: ConfigStats): string {
  const rate = (n: number, sec: number): string => (sec > 0 ? (n / sec).toFixed(1) : '-');
  const bits = [
    `${s.config.padEnd(19)} ${plural(s.programs, 'program')} (${s.sequential} sequential)`,
    `kernel ${rate(s.programs, s.kernelSec)}/s`, `sim ${rate(s.programs, s.simSec)}/s`,
    `divergences ${s.divergences}`, `kernel violations ${s.kernelViolations}`, `explained ${s.explained} of ${s.divergences + s.kernelViolations}`,
    `sim violations ${s.simViolations}`,
    `timing ${s.timing}`, ...(s.errors ? [`errors ${s.errors}`] : []),
  ];
  return bits.join('  ');
}

function progressLine(s: KernelCampaignStats, limit?: number): string {
  return `programs ${s.programs}  ${(s.programs / Math.max(s.durationSec, 1e-9)).toFixed(1)}/s  corpus ${s.corpus}  findings ${s.findings}  ` +
    `${s.durationSec.toFixed(0)}${limit !== undefined ? ` of ${limit}` : ''} s`;
}

function reporter(json: boolean, limit: number | undefined): (e: KernelCampaignEvent) => void {
  const say = (line: string): void => void (json || process.stderr.write(line + '\n'));
  let lastLog = -Infinity;
  return (e) => {
    if (e.kind === 'progress' && e.stats.durationSec - lastLog >= 30) {
      lastLog = e.stats.durationSec;
      say(progressLine(e.stats, limit));
    } else if (e.kind === 'finding') say(`new finding on ${e.config} (${e.source}): ${e.record.signature}`);
    else if (e.kind === 'minimized') say(`minimized on the kernel ${e.record.signature}: ${e.record.opsBefore} -> ${plural(e.record.opsAfter, 'op')}`);
    else if (e.kind === 'error') say(`${e.config}: ${e.error}`);
  };
}

export async function kernelFuzzCommand(args: FuzzArgs): Promise<number> {
  let opts;
  try {
    refuseSimOnly(args);
    const durationSec = count('--duration', args.duration, 0, true);
    const maxPrograms = count('--max-execs', args.maxExecs, 1);
    opts = {
      configs: args.configs !== undefined ? parseTwinConfigs(args.configs) : ALL_TWIN_CONFIGS,
      seed: count('--seed', args.seed, 0) ?? Date.now() % 2 ** 31,
      storeDir: chooseStore(args.store, args.append === true),
      minimize: args.minimize !== false,
      ...(durationSec !== undefined ? { durationSec } : {}),
      ...(maxPrograms !== undefined ? { maxPrograms } : {}),
    };
  } catch (e) {
    if (!(e instanceof ProgramInputError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stdout.write('cannot run here: a kernel campaign makes and mounts loop filesystems, which needs root\n');
    return 3;
  }
  const json = args.json === true;
  if (!json) process.stderr.write(`kernel campaign on ${opts.configs.length} configs, seed ${opts.seed}; store ${opts.storeDir}\n`);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  let summary: Awaited<ReturnType<typeof runKernelCampaign>>;
  try {
    summary = await runKernelCampaign({ ...opts, onEvent: reporter(json, opts.durationSec), progressMs: 1000, signal: ac.signal });
  } catch (e) {
    // A filesystem or daemon this machine cannot provide: said as such, not as a crash.
    if (!(e instanceof ProvisionError)) throw e;
    process.stdout.write(`cannot run here: ${e.message}\n`);
    return 3;
  }
  if (json) {
    process.stdout.write(JSON.stringify({ ...summary.stats, findings: summary.findings.map((f) => ({ signature: f.signature, count: f.count, repro: f.repro ?? null })) }) + '\n');
  } else {
    const say = (l: string): void => {
      process.stderr.write(l + '\n');
    };
    say(progressLine(summary.stats, opts.durationSec));
    for (const s of summary.stats.perConfig) say(`  ${configLine(s)}`);
    say('');
    for (const line of listingLines([readRun(opts.storeDir, 'embedded')], opts.storeDir)) say(line);
  }
  return summary.stats.perConfig.some((s) => s.errors > 0 && s.errors === s.programs) ? 3 : 0;
}

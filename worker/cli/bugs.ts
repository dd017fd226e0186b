// `foliofuzz bugs [--json]`: the bug switches this build knows, and `--bugs`
// parsing for the commands that take it.

import { type BugName, BUG_SWITCHES, type BugSet, findBug } from '../sim/bugs.js';
import { ProgramInputError } from '../prog/errors.js';
import { isSeedSwitch } from '../repro/explain.js';

export function bugsCommand(json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify(BUG_SWITCHES, null, 2) + '\n');
    return 0;
  }
  for (const b of BUG_SWITCHES) {
    const state = b.implemented ? (b.benign ? 'control' : 'switch') : 'planned';
    process.stdout.write(`${b.name.padEnd(36)} ${state.padEnd(8)} ${b.layer.padEnd(8)} ${b.year}  ${b.description}\n`);
  }
  return 0;
}

/**
 * A --bugs list: switch names, comma-separated; `seed` stands for the six seed
 * switches and `all` for every implemented one. Unknown or unimplemented
 * names are input errors.
 */
export function parseBugList(list: string | undefined): BugSet {
  const out = new Set<BugName>();
  if (list === undefined || list === '') return out;
  for (const name of list.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (name === 'seed' || name === 'all') {
      for (const b of BUG_SWITCHES) if (b.implemented && (name === 'all' || isSeedSwitch(b))) out.add(b.name);
      continue;
    }
    const bug = findBug(name);
    if (!bug) throw new ProgramInputError(`--bugs: unknown switch '${name}' (see: foliofuzz bugs)`);
    if (!bug.implemented) throw new ProgramInputError(`--bugs: switch '${name}' is listed but not implemented in this build`);
    out.add(bug.name);
  }
  return out;
}

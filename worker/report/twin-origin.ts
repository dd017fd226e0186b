// Where a kernel campaign's finding came from, and whether the sim shows it:
// plain data, stored with the finding (finding.json `twin`) and shown with it.
//
// A finding of the real kernel is explained when the sim shows it too with a
// bug switch on (the switch restores the kernel's behaviour: a known kernel
// bug); one the sim cannot show under any switch and schedule tried is
// behaviour the sim lacks, and says so.

export type TwinSource = 'kernel' | 'divergence' | 'sim';

export const TWIN_SOURCES: readonly TwinSource[] = ['kernel', 'divergence', 'sim'];

/** The sim's search for a kernel finding: what it found, or null when it found nothing. */
export interface SimSearch {
  /** The switches the sim needed (empty: it shows it with every switch off). */
  switches: string[];
  /** The sim's signature for it (may name another place the same loss was observed). */
  signature: string;
  /** Schedules tried before it showed. */
  schedules: number;
  /** The sim's largest folio it showed with (the sim's choice; the kernel chose its own). */
  folioMax: number;
}

export interface TwinOrigin {
  /** The kernel's trace broke a rule (kernel), the kernel differed from the sim (divergence), or the sim flagged itself (sim). */
  source: TwinSource;
  /** The filesystem config it was found on: "ext4:1024". */
  config: string;
  /** Unset until searched; null: not shown by the sim under any switch and schedule tried. */
  sim?: SimSearch | null;
  /** How many schedules per switch the search tried. */
  searched?: number;
}

/** The finding's origin in one line, as the listing and the dashboard show it. */
export function twinOriginText(o: TwinOrigin): string {
  const where = { kernel: 'the real kernel broke an oracle rule', divergence: 'the real kernel differs from the sim', sim: 'the sim flagged itself' }[o.source];
  return `found by a kernel campaign on ${o.config}: ${where}`;
}

/** What the sim's search says of a kernel finding, in one line; null before it was searched. */
export function simSearchText(o: TwinOrigin): string | null {
  if (o.sim === undefined) return null;
  if (o.source === 'divergence') {
    if (o.sim === null) return 'no switch makes the sim run it as this kernel did: a sim infidelity to fix, or a kernel bug the sim has no switch for';
    if (o.sim.switches.length === 0) return `the sim runs it as this kernel did with folios up to ${o.sim.folioMax} bytes: the folio size the sim drew decided it`;
    return `the sim runs it as this kernel did with ${o.sim.switches.join(', ')} (folios up to ${o.sim.folioMax} bytes): a known kernel bug`;
  }
  if (o.sim === null) {
    return `the sim does not show it (${o.searched ?? 0} schedules with each switch and folio size): behaviour the sim lacks, or a bug the sim has no switch for`;
  }
  const how = o.sim.switches.length ? `with ${o.sim.switches.join(', ')}` : 'with every switch off';
  return `the sim shows it ${how} (${o.sim.signature}; schedule ${o.sim.schedules}, folios up to ${o.sim.folioMax} bytes)${o.sim.switches.length ? ': a known kernel bug' : ''}`;
}

/** A stored origin read back: checked field by field; throws naming the field. */
export function twinOriginFromJson(value: unknown, path: string): TwinOrigin {
  const obj = (v: unknown, p: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${p}: not an object`);
    return v as Record<string, unknown>;
  };
  const v = obj(value, path);
  if (!TWIN_SOURCES.includes(v['source'] as TwinSource)) throw new Error(`${path}.source: not one of ${TWIN_SOURCES.join(', ')}`);
  if (typeof v['config'] !== 'string') throw new Error(`${path}.config: not a string`);
  const o: TwinOrigin = { source: v['source'] as TwinSource, config: v['config'] };
  if (typeof v['searched'] === 'number' && Number.isSafeInteger(v['searched'])) o.searched = v['searched'];
  if (v['sim'] === null) o.sim = null;
  else if (v['sim'] !== undefined) {
    const s = obj(v['sim'], `${path}.sim`);
    const sw = s['switches'];
    if (!Array.isArray(sw) || !sw.every((x) => typeof x === 'string')) throw new Error(`${path}.sim.switches: not a list of names`);
    if (typeof s['signature'] !== 'string') throw new Error(`${path}.sim.signature: not a string`);
    const int = (k: string): number => {
      if (typeof s[k] !== 'number' || !Number.isSafeInteger(s[k])) throw new Error(`${path}.sim.${k}: not an integer`);
      return s[k] as number;
    };
    o.sim = { switches: sw as string[], signature: s['signature'], schedules: int('schedules'), folioMax: int('folioMax') };
  }
  return o;
}

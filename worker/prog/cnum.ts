// C number parsing, as the tools whose scripts we import do it.
//
// xfs_io and fsx parse their numeric arguments with strtoll/strtoul/strtol
// (base 0) and atoi, and a script means exactly what those functions make of it:
// "010" is eight, "0x" is zero followed by junk, "12abc" is twelve for strtoul
// but an error for cvtnum. BigInt keeps overflow behaviour exact.

const LLONG_MAX = 2n ** 63n - 1n;
const LLONG_MIN = -(2n ** 63n);
const ULONG_MAX = 2n ** 64n - 1n;

/** The integer prefix strto*(s, &end, base) reads. */
interface CIntPrefix {
  /** false when no digits were read: C then sets end = s and returns 0. */
  digits: boolean;
  negative: boolean;
  magnitude: bigint;
  /** What follows the number (C's *end). */
  rest: string;
}

/** isspace() in the C locale: ' ', \t, \n, \v, \f, \r. */
function isCSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Read a C integer prefix. base 0 picks 0x.. hex, 0.. octal or decimal, like strtol. */
function readCInt(s: string, base: 0 | 10): CIntPrefix {
  let i = 0;
  while (i < s.length && isCSpace(s.charCodeAt(i))) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  let radix = 10;
  if (base === 0 && s[i] === '0') {
    // "0x" only switches to hex when a hex digit follows; otherwise the "0" is the number.
    if ((s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
      radix = 16;
      i += 2;
    } else {
      radix = 8;
    }
  }
  const start = i;
  // Accumulate in a double while it stays exact (below 2^53), then in BigInt:
  // scripts are mostly short decimal numbers, and BigInt per digit dominated parsing.
  let small = 0;
  for (; i < s.length; i++) {
    const d = digitValue(s.charCodeAt(i));
    if (d >= radix || small >= SMALL_LIMIT) break;
    small = small * radix + d;
  }
  let magnitude = BigInt(small);
  for (; i < s.length; i++) {
    const d = digitValue(s.charCodeAt(i));
    if (d >= radix) break;
    magnitude = magnitude * BigInt(radix) + BigInt(d);
  }
  if (i === start) return { digits: false, negative: false, magnitude: 0n, rest: s };
  return { digits: true, negative, magnitude, rest: i === s.length ? '' : s.slice(i) };
}

/** Below this, small * 16 + 15 is still an exact double. */
const SMALL_LIMIT = 2 ** 48;

/** A character's digit value in base 36 ('0'-'9', 'a'-'z', 'A'-'Z'), 99 for anything else. */
function digitValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 87;
  if (c >= 65 && c <= 90) return c - 55;
  return 99;
}

/** strtoll(s, &end, 0), saturating like glibc; null when no digits were read. */
function strtoll(s: string): { value: bigint; rest: string } | null {
  const p = readCInt(s, 0);
  if (!p.digits) return null;
  const signed = p.negative ? -p.magnitude : p.magnitude;
  const value = signed > LLONG_MAX ? LLONG_MAX : signed < LLONG_MIN ? LLONG_MIN : signed;
  return { value, rest: p.rest };
}

/**
 * xfs_io's cvtnum(): a number with an optional one-letter unit suffix
 * (b = fs block, s = sector, k m g t p e = powers of 1024), case-insensitive.
 * Returns null where cvtnum returns -1 (not a number); negative values pass
 * through, as in C, and callers treat them as errors just as xfs_io does.
 */
export function cvtnum(blockSize: number, sectorSize: number, s: string): bigint | null {
  const n = strtoll(s);
  if (n === null) return null;
  if (n.rest === '') return n.value;
  if (n.rest.length !== 1) return null;
  const unit = UNITS[n.rest.toLowerCase()];
  if (unit === undefined) return null;
  const scale = unit === 'block' ? BigInt(blockSize) : unit === 'sector' ? BigInt(sectorSize) : unit;
  return n.value * scale;
}

const UNITS: Record<string, bigint | 'block' | 'sector'> = {
  b: 'block',
  s: 'sector',
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
  p: 1n << 50n,
  e: 1n << 60n,
};

/** strtoul(s, &end, 0) as a 64-bit unsigned long; null when no digits were read. */
export function strtoul(s: string): { value: bigint; rest: string } | null {
  const p = readCInt(s, 0);
  if (!p.digits) return null;
  if (p.magnitude > ULONG_MAX) return { value: ULONG_MAX, rest: p.rest };
  // A leading '-' negates in unsigned arithmetic: "-1" is ULONG_MAX.
  const value = p.negative ? BigInt.asUintN(64, -p.magnitude) : p.magnitude;
  return { value, rest: p.rest };
}

/** strtol(s, &end, 0) as a 64-bit long, saturating; null when no digits were read. */
export function strtol(s: string): { value: bigint; rest: string } | null {
  return strtoll(s);
}

/** atoi(s): decimal, junk after the digits ignored, 0 when there are none; as a C int. */
export function atoi(s: string): number {
  const p = readCInt(s, 10);
  if (!p.digits) return 0;
  return Number(BigInt.asIntN(32, p.negative ? -p.magnitude : p.magnitude));
}

/** The byte memset()/a char store keeps of an integer: its low eight bits. */
export function lowByte(value: bigint): number {
  return Number(BigInt.asUintN(8, value));
}

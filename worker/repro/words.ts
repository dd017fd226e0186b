// Numbers in generated English: "1 file", "2 files", "the 1st write bio".
// Every message, export comment and page that counts something says it
// through these, so none says "1 files" or "the 2th".

/** `n` and the noun, plural unless n is 1 ("1 file", "3 files"); `plural` for irregular nouns. */
export function plural(n: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : pluralNoun}`;
}

/** An ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 112th. */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  switch (n % 10) {
    case 1: return `${n}st`;
    case 2: return `${n}nd`;
    case 3: return `${n}rd`;
    default: return `${n}th`;
  }
}

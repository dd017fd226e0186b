// getopt(3) as glibc does it, for the option strings of the tools whose command
// lines we import (xfs_io's commands). glibc permutes: options may follow the
// operands ("pwrite 0 4k -S 0x41" works), "--" ends the options, a lone "-" is
// an operand, and "-rw" is "-r -w". An option that takes an argument takes the
// rest of its word or else the next word, whatever it looks like.

export class GetoptError extends Error {
  override name = 'GetoptError';
}

export interface ParsedOption {
  /** The option letter. */
  opt: string;
  /** Its argument, for options declared with a ':' in the option string. */
  arg?: string;
}

export interface ParsedArgs {
  /** In command-line order, so "last one wins" options can be replayed. */
  options: ParsedOption[];
  operands: string[];
}

/** Split `args` (without the command name) by `optstring`; throws GetoptError like getopt's '?' return. */
export function getopt(args: readonly string[], optstring: string): ParsedArgs {
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? '';
    if (word === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      operands.push(word);
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const opt = word[j] ?? '';
      const at = opt === ':' ? -1 : optstring.indexOf(opt);
      if (at < 0) throw new GetoptError(`invalid option -- '${opt}'`);
      if (optstring[at + 1] !== ':') {
        options.push({ opt });
        continue;
      }
      if (j + 1 < word.length) {
        options.push({ opt, arg: word.slice(j + 1) });
      } else if (i + 1 < args.length) {
        options.push({ opt, arg: args[++i] ?? '' });
      } else {
        throw new GetoptError(`option requires an argument -- '${opt}'`);
      }
      break;
    }
  }
  return { options, operands };
}

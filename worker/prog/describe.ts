// One op as a line of text ("pwrite fd=0 off=0 len=4096 fill=171"): the
// trace of `exec --trace`, a violation's trace tail, the exporters' comments.

import type { Op } from './types.js';

export function describeOp(op: Op): string {
  const { op: name, ...args } = op;
  return `${name} ${Object.entries(args).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`;
}

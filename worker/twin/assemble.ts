// The native executor's output -> Traces.
//
// The executor writes JSON lines (native/README.md): a header saying what it
// ran on, then per run a {"run": k} line, the run's events in global order,
// each with its sequence number "s", and an end line. The output is checked
// as untrusted input: every event by the trace codec against the program,
// sequence numbers strictly rising, runs numbered 0, 1, 2... A run whose end
// line never came (the executor was killed, or timed out) ends as the caller
// says.

import type { Program } from '../prog/types.js';
import { TraceInputError, eventFromJson } from '../trace/codec.js';
import { TRACE_FORMAT, type Trace, type TraceEnd, type TraceEvent } from '../trace/types.js';

export const EXEC_OUTPUT_FORMAT = 'foliofuzz-exec/1';

/** What the executor found the directory to be. */
export interface ExecutorHeader {
  /** uname -r */
  release: string;
  /** statfs's type by name ("ext4", "xfs", "fuse.ffz-fused"). */
  fsType: string;
  /** statfs f_bsize. */
  blockSize: number;
  /** ext2/3/4: whether a new file is extent-mapped; null on other filesystems. */
  extents: boolean | null;
}

export interface ExecutorRun {
  run: number;
  events: TraceEvent[];
  /** null: the output stopped inside this run. */
  end: TraceEnd | null;
}

export interface ExecutorOutput {
  header: ExecutorHeader | null;
  runs: ExecutorRun[];
}

type Json = Record<string, unknown>;

class OutputReader {
  line = 0;
  constructor(readonly source: string) {}

  fail(reason: string): never {
    throw new TraceInputError(`${this.source}: line ${this.line}: ${reason}`);
  }

  json(text: string): Json {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.fail(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail('expected a JSON object');
    return value as Json;
  }

  header(obj: Json): ExecutorHeader {
    const keys = ['exec', 'release', 'fsType', 'blockSize', 'extents'];
    if (Object.keys(obj).some((k) => !keys.includes(k)) || obj['exec'] !== EXEC_OUTPUT_FORMAT) {
      this.fail(`expected the header {"exec":"${EXEC_OUTPUT_FORMAT}",...}`);
    }
    const { release, fsType, blockSize, extents } = obj;
    if (typeof release !== 'string' || typeof fsType !== 'string') this.fail('header: release and fsType must be strings');
    if (typeof blockSize !== 'number' || !Number.isSafeInteger(blockSize) || blockSize <= 0) this.fail('header: blockSize must be a positive integer');
    if (extents !== null && typeof extents !== 'boolean') this.fail('header: extents must be a boolean or null');
    return { release, fsType, blockSize, extents };
  }

  end(obj: Json): TraceEnd {
    if (obj['end'] === 'done' && Object.keys(obj).length === 1) return { outcome: 'done' };
    if (obj['end'] === 'error' && typeof obj['error'] === 'string' && Object.keys(obj).length === 2) {
      return { outcome: 'error', error: obj['error'] };
    }
    return this.fail('expected {"end":"done"} or {"end":"error","error":"..."}');
  }
}

/** Check and split the executor's stdout. */
export function parseExecutorOutput(text: string, program: Program, source: string): ExecutorOutput {
  const r: OutputReader = new OutputReader(source);
  const out: ExecutorOutput = { header: null, runs: [] };
  let current: ExecutorRun | null = null;
  let lastSeq = -1;
  const lines = text.split('\n');
  // After the last newline: nothing, or a line cut off mid-write (the executor was killed): dropped.
  lines.pop();
  for (const line of lines) {
    r.line++;
    const obj = r.json(line);
    if (out.header === null) {
      out.header = r.header(obj);
    } else if ('run' in obj) {
      if (current && current.end === null) r.fail(`run ${obj['run']} starts before run ${current.run} ended`);
      if (obj['run'] !== out.runs.length || Object.keys(obj).length !== 1) r.fail(`expected {"run":${out.runs.length}}`);
      current = { run: out.runs.length, events: [], end: null };
      out.runs.push(current);
      lastSeq = -1;
    } else if (!current || current.end !== null) {
      r.fail('an event or end line outside a run');
    } else if ('end' in obj) {
      current.end = r.end(obj);
    } else {
      const { s, ...event } = obj;
      if (typeof s !== 'number' || !Number.isSafeInteger(s) || s <= lastSeq) r.fail(`sequence number must rise past ${lastSeq}, got ${JSON.stringify(s)}`);
      lastSeq = s;
      current.events.push(eventFromJson(event, program, `${source}: line ${r.line}`, '$'));
    }
  }
  return out;
}

/** The header line alone (foliofuzz-exec --probe). */
export function parseExecutorHeader(text: string, source: string): ExecutorHeader {
  const r: OutputReader = new OutputReader(source);
  r.line = 1;
  return r.header(r.json(text.split('\n')[0] ?? ''));
}

/** Traces of the runs, in order; a run cut off ends with `cut`. */
export function tracesFromOutput(output: ExecutorOutput, program: Program, cut: TraceEnd): Trace[] {
  const header = output.header;
  if (!header) return [];
  return output.runs.map((run) => ({
    format: TRACE_FORMAT,
    source: { kind: 'kernel', release: header.release, fsType: header.fsType, blockSize: header.blockSize, run: run.run },
    program,
    events: run.events,
    end: run.end ?? cut,
  }));
}

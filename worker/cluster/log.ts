// Process logs for the cluster: pino, one JSON object a line on stdout (what
// log collectors want); on a terminal the same records as short readable lines
// (pino-pretty is not a dependency: the formatter below is all we need).

import { pino, type Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** One JSON log line as `HH:MM:SS LEVEL [name] msg key=value ...`. */
export function prettyLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof rec['time'] === 'number' ? new Date(rec['time']).toISOString().slice(11, 19) : '';
  const level = LEVELS[rec['level'] as number] ?? String(rec['level']);
  const extra = Object.entries(rec).filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return `${time} ${level.padEnd(5)} [${String(rec['name'] ?? '')}] ${String(rec['msg'] ?? '')}${extra ? `  ${extra}` : ''}\n`;
}

export function makeLogger(name: string, bindings: Record<string, string> = {}): Logger {
  const level = process.env['FOLIOFUZZ_LOG_LEVEL'] ?? 'info';
  if (process.stdout.isTTY) {
    return pino({ name, level, base: { ...bindings } }, { write: (line: string) => process.stdout.write(prettyLine(line)) });
  }
  return pino({ name, level, base: { pid: process.pid, ...bindings } });
}

export type { Logger };

// Keeping a run's observed trace (RunOptions.record): every event as it was
// emitted, its bytes copied (the driver hands out views of buffers it
// reuses), and how the run ended.

import type { Program } from '../prog/types.js';
import { SIM_VERSION } from '../sim/version.js';
import type { BugSet } from '../sim/bugs.js';
import type { Trace, TraceEnd, TraceEvent } from '../trace/types.js';

export class TraceRecorder {
  private readonly events: TraceEvent[] = [];

  add(ev: TraceEvent): void {
    this.events.push(copyEvent(ev));
  }

  finish(program: Program, bugs: BugSet, end: TraceEnd): Trace {
    return {
      format: 'foliofuzz-trace/1',
      source: { kind: 'sim', simVersion: SIM_VERSION, bugs: [...bugs].sort() },
      program,
      events: this.events,
      end,
    };
  }
}

function copyEvent(ev: TraceEvent): TraceEvent {
  switch (ev.e) {
    case 'call':
    case 'ret':
    case 'aio':
      return ev.data ? { ...ev, data: ev.data.slice() } : { ...ev };
    case 'recovered':
    case 'final':
      return { ...ev, data: ev.data.slice() };
    case 'posteof':
      return { ...ev, ranges: ev.ranges.map(([a, b]): [number, number] => [a, b]) };
    default:
      return { ...ev };
  }
}

// Undoing what provisioning did (unmount, detach a loop device, delete an
// image) on every way out of the process: the normal path and a thrown error
// (the owner calls release() in a finally), process exit, SIGINT and SIGTERM.
// A crash of the executor needs nothing special: it is a child, and what it
// mounted is undone here like the rest. Undos are synchronous so that they can
// run in an 'exit' handler.
//
// What a node process killed with SIGKILL leaves behind is found by
// sweepStale (provision.ts) the next time: every resource lives under a
// directory named for the pid that made it.

interface Undo {
  what: string;
  run: () => void;
}

const pending: Undo[] = [];
let hooked = false;

function runUndo(u: Undo): string | null {
  try {
    u.run();
    return null;
  } catch (err) {
    return `${u.what}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Undo everything still pending, newest first; the failures, described. */
export function undoAll(): string[] {
  const failures: string[] = [];
  while (pending.length > 0) {
    const failure = runUndo(pending.pop()!);
    if (failure) failures.push(failure);
  }
  return failures;
}

function onSignal(signal: NodeJS.Signals): void {
  const failures = undoAll();
  for (const f of failures) process.stderr.write(`foliofuzz: cleanup after ${signal}: ${f}\n`);
  // Someone else listens too (a campaign stopping gracefully): leave the process to them.
  if (process.listenerCount(signal) > 1) return;
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    undoAll();
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * Register an undo; returns the function that runs it now (once) and forgets
 * it. Its errors propagate to that caller; at exit they are reported.
 */
export function registerUndo(what: string, run: () => void): () => void {
  hook();
  const u: Undo = { what, run };
  pending.push(u);
  return () => {
    const at = pending.indexOf(u);
    if (at < 0) return;
    pending.splice(at, 1);
    u.run();
  };
}

/** Forget the undo described as `what` without running it (what it would undo is kept on purpose). */
export function forgetUndo(what: string): void {
  const at = pending.findIndex((u) => u.what === what);
  if (at >= 0) pending.splice(at, 1);
}

/** How many undos are pending (tests). */
export function pendingUndos(): number {
  return pending.length;
}

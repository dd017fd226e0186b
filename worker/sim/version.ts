// The simulator's behaviour version. Bump the number whenever a change to
// worker/sim, worker/exec or worker/oracle can change what an existing
// program does (another interleaving at a choice point, another signature or
// result): a replay decision list recorded under an older version may then go
// elsewhere, and replay callers can warn when the versions differ.

export const SIM_VERSION = 'foliofuzz-sim/15';

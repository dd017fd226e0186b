// lib/errseq.c: an error value with a sequence counter, so that each opener of
// a file sees each writeback error once.
//
// Layout of the 32-bit value: the low 12 bits hold the (positive) errno, bit 12
// is SEEN, the bits above count errors that were recorded after being seen.

const ERRSEQ_SHIFT = 12;
const MAX_ERRNO = (1 << ERRSEQ_SHIFT) - 1;
const ERRSEQ_SEEN = 1 << ERRSEQ_SHIFT;
const ERRSEQ_CTR_INC = 1 << (ERRSEQ_SHIFT + 1);

/** A mutable errseq_t. */
export interface Errseq {
  v: number;
}

/** errseq_set: record err (negative errno); bump the counter only if the last one was seen. */
export function errseqSet(eseq: Errseq, err: number): void {
  if (err === 0) return;
  const old = eseq.v;
  let next = (old & ~(MAX_ERRNO | ERRSEQ_SEEN)) | (-err & MAX_ERRNO);
  if (old & ERRSEQ_SEEN) next = (next + ERRSEQ_CTR_INC) >>> 0;
  eseq.v = next >>> 0;
}

/** errseq_sample: the cursor a new opener starts from; an unseen error is reported to it. */
export function errseqSample(eseq: Errseq): number {
  const old = eseq.v;
  return old & ERRSEQ_SEEN ? old : 0;
}

/** errseq_check: has anything been recorded since `since`? Returns the negative errno or 0. */
export function errseqCheck(eseq: Errseq, since: number): number {
  const cur = eseq.v;
  if (cur === since) return 0;
  return -(cur & MAX_ERRNO);
}

/**
 * errseq_check_and_advance: report what was recorded since *since (once), mark it
 * seen, and move the cursor to it.
 */
export function errseqCheckAndAdvance(eseq: Errseq, since: { v: number }): number {
  const old = eseq.v;
  if (old === since.v) return 0;
  const seen = (old | ERRSEQ_SEEN) >>> 0;
  eseq.v = seen;
  since.v = seen;
  return -(seen & MAX_ERRNO);
}

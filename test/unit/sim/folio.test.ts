// Folio flag operations (include/linux/page-flags.h, mm/filemap.c).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  folioEndRead,
  folioMarkUptodate,
  folioTestLocked,
  folioTestUptodate,
  folioTrylock,
  folioUnlock,
} from '../../../worker/sim/mm/folio.js';
import { Sched } from '../../../worker/sim/sched.js';
import { throwsViolation } from './helpers.js';
import { Folio, PG_locked, PG_uptodate, AddressSpace } from '../../../worker/sim/include/pagemap.js';

function setup(order = 2): { s: Sched; f: Folio } {
  const s = new Sched(1000);
  const m = new AddressSpace(s, 4, () => 1 << 20);
  return { s, f: new Folio(m, 0, order) };
}

test('folio_end_read(success) on a locked, non-uptodate folio sets uptodate and unlocks', () => {
  const { s, f } = setup();
  assert.ok(folioTrylock(f));
  folioEndRead(s, f, true);
  assert.equal(folioTestUptodate(f), true);
  assert.equal(folioTestLocked(f), false);
});

test('folio_end_read(failure) unlocks and leaves the folio not uptodate', () => {
  const { s, f } = setup();
  assert.ok(folioTrylock(f));
  folioEndRead(s, f, false);
  assert.equal(folioTestUptodate(f), false);
  assert.equal(folioTestLocked(f), false);
});

test('folio_end_read(success) on an uptodate folio is the VM_BUG_ON', () => {
  const { s, f } = setup();
  assert.ok(folioTrylock(f));
  folioMarkUptodate(f);
  throwsViolation(() => folioEndRead(s, f, true), 'folio_end_read:already-uptodate');
});

test('folio_end_read(failure) on an uptodate locked folio keeps uptodate (XOR of locked only)', () => {
  const { s, f } = setup();
  assert.ok(folioTrylock(f));
  folioMarkUptodate(f);
  folioEndRead(s, f, false);
  assert.equal(f.flags & (PG_locked | PG_uptodate), PG_uptodate);
});

test('folio_end_read on an unlocked folio is a violation', () => {
  const { s, f } = setup();
  throwsViolation(() => folioEndRead(s, f, true), 'folio_end_read:not-locked');
});

test('folio_unlock on an unlocked folio is a violation; on a locked one it unlocks', () => {
  const { s, f } = setup();
  throwsViolation(() => folioUnlock(s, f), 'folio_unlock:not-locked');
  assert.ok(folioTrylock(f));
  assert.equal(folioTrylock(f), false, 'trylock of a locked folio fails');
  folioUnlock(s, f);
  assert.equal(folioTestLocked(f), false);
});

test('folio_mark_uptodate only sets the flag', () => {
  const { f } = setup();
  folioMarkUptodate(f);
  folioMarkUptodate(f);
  assert.equal(folioTestUptodate(f), true);
  assert.equal(folioTestLocked(f), false);
});

test('folio geometry: size, pos, nrPages', () => {
  const s = new Sched(10);
  const m = new AddressSpace(s, 4, () => 0);
  const f = new Folio(m, 8, 3);
  assert.equal(f.size, 32768);
  assert.equal(f.pos, 8 * 4096);
  assert.equal(f.nrPages, 8);
});

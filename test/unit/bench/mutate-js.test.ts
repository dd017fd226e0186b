// The mutation benchmark's operators (test/bench/mutate-js.ts) on a small
// JavaScript snippet: which sites are found, in which order, with which ids,
// what each mutant's text is, and that a seed draws the same sample.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MutationSite, OPERATORS, applySite, enumerateSites, sampleSites } from '../../bench/mutate-js.js';

const SNIPPET = [
  'function* writeBegin(s, folio, inode) {',              // 1
  '    if (folio.size < 10) {',                           // 2
  '        folio.flags |= PG_dirty;',                      // 3
  '    }',                                                 // 4
  '    yield* folioLock(s, folio);',                       // 5
  '    inode.iSize = 5;',                                  // 6
  '    folioMarkUptodate(folio);',                         // 7
  '    cov(C_WRITE_BEGIN);',                               // 8
  '    provenance()?.mark(folio.data, 0, 1);',             // 9
  '    let x = 1;',                                        // 10
  '    x = 2;',                                            // 11
  '    inode.iRwsem.upWrite(s);',                          // 12
  '    if (this.bugs.has("seeded")) x++;',                 // 13
  '    const text = "a < b"; // a >= b in a comment',      // 14
  '    return x >= text.length;',                          // 15
  '}',                                                     // 16
  'function noteDirtyLoss(folio) { folio.flags |= 1; if (folio.size > 1) g(); }', // 17
  '',
].join('\n');

const FILE = 'worker/sim/x.js';

test('mutate-js: the sites of a snippet, in text order, with stable ids', () => {
  const sites = enumerateSites(FILE, SNIPPET);
  assert.deepEqual(sites.map((s) => `${s.line}:${s.column}:${s.operator} ${s.original}`), [
    '2:9:negate-if folio.size < 10',
    '2:20:bound <',
    '3:9:flag-drop folio.flags |= PG_dirty;',
    '5:5:lock-drop yield* folioLock(s, folio);',
    '6:5:stmt-delete inode.iSize = 5;',
    '7:5:flag-drop folioMarkUptodate(folio);',
    '12:5:lock-drop inode.iRwsem.upWrite(s);',
    '15:14:bound >=',
  ]);
  assert.equal(sites[0]!.id, `${FILE}:2:9:negate-if`);
  // the same text gives the same sites
  assert.deepEqual(enumerateSites(FILE, SNIPPET), sites);
});

test('mutate-js: each operator produces the expected text', () => {
  const sites = enumerateSites(FILE, SNIPPET);
  const line = (s: MutationSite): string => applySite(SNIPPET, s).split('\n')[s.line - 1]!;
  const at = (id: string): MutationSite => {
    const s = sites.find((x) => x.id === `${FILE}:${id}`);
    assert.ok(s, id);
    return s;
  };
  assert.equal(line(at('2:9:negate-if')), '    if (!(folio.size < 10)) {');
  assert.equal(line(at('2:20:bound')), '    if (folio.size <= 10) {');
  assert.equal(line(at('15:14:bound')), '    return x > text.length;');
  assert.equal(line(at('3:9:flag-drop')), '        ;');
  assert.equal(line(at('5:5:lock-drop')), '    ;');
  assert.equal(line(at('6:5:stmt-delete')), '    ;');
  assert.equal(line(at('12:5:lock-drop')), '    ;');
  // one span changes; the rest of the text is untouched
  const mutant = applySite(SNIPPET, at('7:5:flag-drop'));
  assert.equal(mutant, SNIPPET.replace('folioMarkUptodate(folio);', ';'));
});

test('mutate-js: a seed draws the same sample, the operators taking turns', () => {
  const sites = enumerateSites(FILE, SNIPPET);
  const a = sampleSites(sites, 5, 42).map((s) => s.id);
  assert.deepEqual(sampleSites(sites, 5, 42).map((s) => s.id), a);
  assert.deepEqual(a.map((id) => id.split(':').pop()), [...OPERATORS]);
  // every site, once, when asked for more than there are
  const all = sampleSites(sites, 100, 7).map((s) => s.id);
  assert.deepEqual([...all].sort(), sites.map((s) => s.id).sort());
  const seeds = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => sampleSites(sites, 8, seed).map((s) => s.id).join(',')));
  assert.ok(seeds.size > 1, 'different seeds draw different orders');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { atoi, cvtnum, lowByte, strtol, strtoul } from '../../../worker/prog/cnum.js';
import { getopt, GetoptError } from '../../../worker/prog/getopt.js';

test('cvtnum matches xfs_io 6.1 on a 4096-byte-block, 512-byte-sector file', () => {
  const cases: [string, bigint | null][] = [
    ['0', 0n], ['4096', 4096n], ['0x1000', 4096n], ['010', 8n], ['+7', 7n], ['-3', -3n],
    ['1k', 1024n], ['1K', 1024n], ['1m', 1n << 20n], ['1g', 1n << 30n], ['1t', 1n << 40n],
    ['1p', 1n << 50n], ['1e', 1n << 60n], ['2b', 8192n], ['3s', 1536n], ['0x10k', 16384n],
    [' 5', 5n], ['', null], ['k', null], ['abc', null], ['0x', null], ['08', null], ['1.5k', null],
    ['1kb', null], ['1q', null], ['12 ', null],
  ];
  for (const [text, want] of cases) assert.equal(cvtnum(4096, 512, text), want, `cvtnum(${JSON.stringify(text)})`);
  assert.equal(cvtnum(1024, 4096, '1b'), 1024n);
  assert.equal(cvtnum(1024, 4096, '1s'), 4096n);
});

test('numbers past 2^53 are exact (digits read as doubles switch to BigInt before they round)', () => {
  assert.equal(cvtnum(4096, 512, '9007199254740993'), 9007199254740993n);
  assert.equal(cvtnum(4096, 512, '9223372036854775807'), 2n ** 63n - 1n);
  assert.equal(cvtnum(4096, 512, '0x1fffffffffffff1'), 0x1fffffffffffff1n);
  assert.equal(cvtnum(4096, 512, '0777777777777777777777'), 0o777777777777777777777n);
  assert.deepEqual(strtoul('0xfffffffffffffffF!'), { value: 2n ** 64n - 1n, rest: '!' });
  assert.equal(cvtnum(4096, 512, ' \t\v12k'), 12n << 10n);
});

test('strtoll saturates instead of wrapping', () => {
  assert.equal(cvtnum(4096, 512, '99999999999999999999'), 2n ** 63n - 1n);
  assert.equal(cvtnum(4096, 512, '-99999999999999999999'), -(2n ** 63n));
});

test('strtoul and strtol read a prefix and report the rest', () => {
  assert.deepEqual(strtoul('0x12zz'), { value: 0x12n, rest: 'zz' });
  assert.deepEqual(strtoul('-1'), { value: 2n ** 64n - 1n, rest: '' });
  assert.deepEqual(strtoul('99999999999999999999999'), { value: 2n ** 64n - 1n, rest: '' });
  assert.equal(strtoul('zz'), null);
  assert.equal(strtoul('-'), null);
  assert.deepEqual(strtol('-0x10'), { value: -16n, rest: '' });
  assert.deepEqual(strtol('077'), { value: 63n, rest: '' });
});

test('atoi and lowByte', () => {
  assert.equal(atoi('12abc'), 12);
  assert.equal(atoi('abc'), 0);
  assert.equal(atoi('-r'), 0);
  assert.equal(atoi(' -4'), -4);
  assert.equal(atoi('0x10'), 0); // atoi is decimal only
  assert.equal(lowByte(0x1234n), 0x34);
  assert.equal(lowByte(-1n), 0xff);
  assert.equal(lowByte(-0x12n), 0xee);
});

test('getopt permutes, clusters, takes option arguments and stops at --', () => {
  assert.deepEqual(getopt(['0', '-rw', '4096', '-S0x41', '-b', '-5'], 'rwS:b:'), {
    options: [{ opt: 'r' }, { opt: 'w' }, { opt: 'S', arg: '0x41' }, { opt: 'b', arg: '-5' }],
    operands: ['0', '4096'],
  });
  assert.deepEqual(getopt(['-r', '--', '-w', '-'], 'rw'), { options: [{ opt: 'r' }], operands: ['-w', '-'] });
  assert.deepEqual(getopt(['-'], 'r'), { options: [], operands: ['-'] });
  assert.throws(() => getopt(['-z'], 'r'), (e: unknown) => e instanceof GetoptError && e.message === "invalid option -- 'z'");
  assert.throws(() => getopt(['-:'], 'b:'), { message: "invalid option -- ':'" });
  assert.throws(() => getopt(['0', '-b'], 'b:'), { message: "option requires an argument -- 'b'" });
});

'use strict';

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { unquoteGo, parseAnnotations } = require('../lib/annotations');

describe('Go-quoted values (strconv.Quote)', () => {
  const table = [
    ['"3"', '3'],
    ['""', ''],
    ['"a \\"quoted\\" word"', 'a "quoted" word'],
    ['"back\\\\slash"', 'back\\slash'],
    ['"line1\\nline2\\ttab"', 'line1\nline2\ttab'],
    ['"\\x41\\u00e9\\U0001F600"', 'A\u00e9\u{1F600}'],
    ['"\\101"', 'A'],
    ['"{\\"kind\\":\\"Deployment\\"}"', '{"kind":"Deployment"}'],
  ];
  for (const [quoted, expected] of table) {
    test(`${quoted}`, () => assert.equal(unquoteGo(quoted), expected));
  }
  for (const bad of ['3', '"3', '"a"b"', '"\\q"', '"\\x4"', "'3'"]) {
    test(`refuses ${bad}`, () => assert.throws(() => unquoteGo(bad), SyntaxError));
  }
});

describe('the downward-API annotations file', () => {
  test('reads every key and skips malformed lines without failing', () => {
    const text = [
      'kubernetes.io/config.seen="2026-11-25T08:00:00.000000000Z"',
      'garbage line',
      'webscale.dev/workers="3"',
      'broken="unterminated',
      '',
    ].join('\n');
    const { values, errors } = parseAnnotations(text);
    assert.equal(values.get('webscale.dev/workers'), '3');
    assert.equal(values.get('kubernetes.io/config.seen'), '2026-11-25T08:00:00.000000000Z');
    assert.equal(values.has('broken'), false);
    assert.equal(errors.length, 2);
  });

  test('a value containing "=" and newlines survives', () => {
    const { values } = parseAnnotations('note="a=b\\nc=d"\n');
    assert.equal(values.get('note'), 'a=b\nc=d');
  });
});

'use strict';

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { CrashGuard } = require('../lib/crash-guard');

test('tolerates up to `limit` crashes in the window, then trips', () => {
  const guard = new CrashGuard({ limit: 2, windowMs: 1000 });
  assert.equal(guard.record(0).tripped, false);
  assert.equal(guard.record(100).tripped, false);
  const s = guard.record(200);
  assert.equal(s.tripped, true);
  assert.equal(s.recent, 3);
  assert.equal(s.resumeAt, 1000); // when the crash at t=0 leaves the window
});

test('replacing resumes once old crashes leave the window', () => {
  const guard = new CrashGuard({ limit: 2, windowMs: 1000 });
  for (const t of [0, 100, 200, 300]) guard.record(t);
  assert.equal(guard.state(999).tripped, true);
  assert.equal(guard.state(999).resumeAt, 1100);
  assert.equal(guard.state(1099).tripped, true);
  assert.equal(guard.state(1100).tripped, false);
});

test('crashes far apart never trip it', () => {
  const guard = new CrashGuard({ limit: 1, windowMs: 1000 });
  for (let t = 0; t < 10000; t += 1500) assert.equal(guard.record(t).tripped, false);
});

test('limit 0: the first crash trips', () => {
  assert.equal(new CrashGuard({ limit: 0, windowMs: 1000 }).record(5).tripped, true);
});

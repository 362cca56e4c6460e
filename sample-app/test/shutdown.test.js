'use strict';

// SIGTERM to the primary, as the kubelet sends it: readiness fails first,
// in-flight requests finish with 200, the process exits 0.

const assert = require('node:assert/strict');
const { after, test } = require('node:test');
const { startApp, cleanup, request, withTimeout } = require('./support/app-process');

after(cleanup);

test('SIGTERM: readiness 503 first, in-flight requests complete, exit 0', async () => {
  const app = await startApp(
    { WEB_CONCURRENCY: '2', SHUTDOWN_DELAY_MS: '600', SHUTDOWN_GRACE_MS: '8000' },
    { workers: 2 },
  );
  assert.equal((await app.get('/readyz')).status, 200);

  const events = [];
  const slow = [0, 1, 2, 3].map((i) =>
    request(app.port, '/io?ms=1500', { timeoutMs: 8000 }).then(
      (res) => {
        events.push(`slow ${i} done`);
        return res;
      },
      (err) => ({ status: `error: ${err.message}` }),
    ),
  );
  // Let them reach the workers before the signal.
  await new Promise((r) => setTimeout(r, 300));
  const signalledAt = Date.now();
  process.kill(app.child.pid, 'SIGTERM');

  // Readiness must flip to 503 while the server still answers.
  let sawNotReady = false;
  for (let i = 0; i < 40 && !sawNotReady; i += 1) {
    const res = await app.get('/readyz', { timeoutMs: 2000 });
    if (res.status === 503) {
      sawNotReady = true;
      events.push('readyz 503');
    } else {
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  assert.ok(sawNotReady, 'readiness never went to 503');
  assert.ok(Date.now() - signalledAt < 1000, 'readiness took too long to fail');

  const results = await withTimeout(Promise.all(slow), 8000, 'in-flight requests');
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
  assert.equal(events[0], 'readyz 503', `order of events: ${events.join(', ')}`);

  const { code, signal } = await withTimeout(app.exited, 10000, 'primary exit');
  assert.equal(signal, null);
  assert.equal(code, 0, JSON.stringify(app.lines.slice(-5)));
  assert.ok(Date.now() - signalledAt < 8000, 'exit within the grace period');
  assert.ok(app.lines.some((l) => l.msg === 'shutdown complete: all requests answered'));

  // And nothing listens any more.
  await assert.rejects(request(app.port, '/healthz', { timeoutMs: 2000 }), /ECONNREFUSED|socket hang up|ECONNRESET/);
});

test('SIGTERM past the grace period: requests are cut, exit 1, logged', async () => {
  const app = await startApp({ WEB_CONCURRENCY: '1', SHUTDOWN_DELAY_MS: '0', SHUTDOWN_GRACE_MS: '500' }, { workers: 1 });
  const slow = request(app.port, '/io?ms=1000', { timeoutMs: 5000 }).catch((err) => err);
  await new Promise((r) => setTimeout(r, 200));
  process.kill(app.child.pid, 'SIGTERM');
  const { code } = await withTimeout(app.exited, 5000, 'primary exit');
  assert.equal(code, 1);
  assert.ok(await slow instanceof Error, 'the slow request cannot have completed');
  assert.ok(app.lines.some((l) => l.level === 'error' && /cut off/.test(l.msg)));
});

'use strict';

// Workers that die are replaced - until they die too often: then the primary
// stops replacing them, says so loudly, and exits 1 once none are left.

const assert = require('node:assert/strict');
const { after, test } = require('node:test');
const { startApp, cleanup, sumSamples, waitFor, withTimeout } = require('./support/app-process');

after(cleanup);

function onlinePids(app) {
  const online = new Map();
  for (const line of app.lines) {
    if (line.msg === 'worker online') online.set(line.worker, line.workerPid);
    if (line.msg === 'worker died unexpectedly' || line.msg === 'worker exited') online.delete(line.worker);
  }
  return [...online.values()];
}

test('crashed workers are replaced; a crash loop stops replacing and exits 1', async () => {
  const app = await startApp(
    { WEB_CONCURRENCY: '2', WEBSCALE_CRASH_LIMIT: '1', WEBSCALE_CRASH_WINDOW_MS: '60000' },
    { workers: 2 },
  );
  // Send no request until the primary has seen the death: a connection the
  // primary hands to a worker in the instant it dies is lost (Node cluster's
  // round-robin does not re-route it), which no application code can fix.
  const died = (pid) =>
    waitFor(() => app.lines.some((l) => l.msg === 'worker died unexpectedly' && l.workerPid === pid), {
      timeoutMs: 5000,
      what: `the primary to notice that ${pid} died`,
    });

  const [first] = onlinePids(app);
  process.kill(first, 'SIGKILL'); // a worker of the app this test started
  await died(first);

  // Crash 1 of at most 1 in the window: replaced.
  await waitFor(
    async () => {
      const text = (await app.get('/metrics', { timeoutMs: 2000 })).text;
      return sumSamples(text, 'webscale_workers') === 2 && sumSamples(text, 'webscale_worker_crashes_total') === 1;
    },
    { timeoutMs: 5000, what: 'the replacement worker' },
  );
  assert.ok(!onlinePids(app).includes(first));
  assert.equal((await app.get('/healthz')).status, 200);

  // Crash 2: over the limit - not replaced, logged loudly, one worker serves on.
  const [second, third] = onlinePids(app);
  process.kill(second, 'SIGKILL');
  await died(second);
  await waitFor(() => app.lines.some((l) => l.level === 'error' && /^CRASH LOOP/.test(l.msg)), { timeoutMs: 5000, what: 'the crash-loop log line' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await app.workers(), 1);
  assert.equal((await app.get('/healthz')).status, 200);

  // The last one dies: nothing left, exit non-zero.
  process.kill(third, 'SIGKILL');
  const { code } = await withTimeout(app.exited, 5000, 'primary exit');
  assert.equal(code, 1);
  assert.ok(app.lines.some((l) => /all workers are gone/.test(l.msg)));
});

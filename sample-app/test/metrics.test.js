'use strict';

// The real entry, 3 workers: exactly N requests in -> exactly N in /metrics,
// and still N after scale-down retired two of the workers that served them.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, test } = require('node:test');
const { startApp, cleanup, tempDir, sumSamples, waitFor } = require('./support/app-process');

after(cleanup);

const N = 60;

test('/metrics is the exact sum over all workers, and keeps retired workers\' counts', async () => {
  const annotations = path.join(tempDir(), 'annotations'); // absent: WEB_CONCURRENCY decides
  const app = await startApp({ WEB_CONCURRENCY: '3', WEBSCALE_ANNOTATIONS_FILE: annotations }, { workers: 3 });

  // New connection per request (agent: false), 3 at a time: the primary's
  // round-robin spreads them over the workers.
  const servedBy = new Map();
  let sent = 0;
  async function client() {
    while (sent < N) {
      sent += 1;
      const res = await app.get('/work?ms=1');
      assert.equal(res.status, 200);
      const id = res.headers['x-worker-id'];
      servedBy.set(id, (servedBy.get(id) || 0) + 1);
    }
  }
  await Promise.all([client(), client(), client()]);
  assert.equal([...servedBy.values()].reduce((a, b) => a + b, 0), N);
  assert.ok(servedBy.size >= 2, `expected at least 2 workers to serve, got ${JSON.stringify([...servedBy])}`);

  await app.get('/not/a/route/12345');

  let text = await app.metrics();
  assert.equal(sumSamples(text, 'http_requests_total', { route: '/work' }), N);
  assert.equal(sumSamples(text, 'http_requests_total', { route: '/work', method: 'GET', status: '200' }), N);
  assert.equal(sumSamples(text, 'http_request_duration_seconds_count', { route: '/work' }), N);
  assert.equal(sumSamples(text, 'http_request_duration_seconds_bucket', { route: '/work', le: '+Inf' }), N);
  assert.equal(sumSamples(text, 'http_requests_total', { route: 'unmatched', status: '404' }), 1);
  assert.ok(!text.includes('12345'), 'raw URL leaked into a label');
  assert.equal(sumSamples(text, 'http_requests_in_flight'), 0);
  assert.equal(sumSamples(text, 'webscale_workers'), 3);
  assert.ok(sumSamples(text, 'process_cpu_seconds_total') > 0);
  for (const name of ['http_requests_total', 'http_request_duration_seconds', 'http_requests_in_flight', 'webscale_workers', 'process_cpu_seconds_total']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
  }
  const cpuBefore = sumSamples(text, 'process_cpu_seconds_total');

  // Scale down to 1: two workers that served requests retire; counters must
  // not go down (Prometheus would read that as a reset).
  fs.writeFileSync(annotations, 'webscale.dev/workers="1"\n');
  await waitFor(async () => (await app.workers()) === 1, { timeoutMs: 5000, what: 'scale-down to 1 worker' });
  await waitFor(() => app.lines.filter((l) => l.msg === 'worker exited').length === 2, { timeoutMs: 5000, what: 'two retired workers to exit' });
  text = await app.metrics();
  assert.equal(sumSamples(text, 'http_requests_total', { route: '/work' }), N);
  assert.equal(sumSamples(text, 'http_request_duration_seconds_count', { route: '/work' }), N);
  assert.ok(sumSamples(text, 'process_cpu_seconds_total') >= cpuBefore, 'CPU counter went down');

  assert.ok(app.lines.some((l) => l.level === 'warn' && /REDIS_URL is not set/.test(l.msg)), 'in-memory store warning');
});

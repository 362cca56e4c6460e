'use strict';

const assert = require('node:assert/strict');
const { test } = require('node:test');
const client = require('prom-client');
const { ClusterMetrics, foldInto, accToSnapshot } = require('../lib/aggregate');
const { TYPES } = require('../lib/ipc');
const { sumSamples } = require('./support/http');

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A registry shaped like a worker's, with `n` requests and `inFlight` in flight. */
async function workerSnapshot(n, inFlight = 0) {
  const registry = new client.Registry();
  const requests = new client.Counter({ name: 'http_requests_total', help: 'h', labelNames: ['route'], registers: [registry] });
  const duration = new client.Histogram({ name: 'http_request_duration_seconds', help: 'h', labelNames: ['route'], buckets: [0.1, 1], registers: [registry] });
  const gauge = new client.Gauge({ name: 'http_requests_in_flight', help: 'h', registers: [registry] });
  for (let i = 0; i < n; i += 1) {
    requests.inc({ route: '/work' });
    duration.observe({ route: '/work' }, 0.05);
  }
  gauge.set(inFlight);
  return registry.getMetricsAsJSON();
}

/** A fake cluster worker that answers snapshot requests (or not). */
function fakeWorker(id, metrics, snapshot, { answers = true } = {}) {
  return {
    id,
    isConnected: () => true,
    send(message) {
      if (message.type === TYPES.snapshotReq && answers) {
        setImmediate(() => metrics.onSnapshot(id, { id: message.id, metrics: snapshot }));
      }
    },
  };
}

test('foldInto sums counters and histograms and drops gauges', async () => {
  const acc = new Map();
  foldInto(acc, await workerSnapshot(2, 5));
  foldInto(acc, await workerSnapshot(3, 1));
  const folded = accToSnapshot(acc);
  assert.deepEqual(folded.map((m) => m.name).sort(), ['http_request_duration_seconds', 'http_requests_total']);
  const total = folded.find((m) => m.name === 'http_requests_total');
  assert.equal(total.values[0].value, 5);
  const count = folded.find((m) => m.name === 'http_request_duration_seconds').values.find((v) => v.metricName === 'http_request_duration_seconds_count');
  assert.equal(count.value, 5);
});

test('the sum over workers is exact and survives a worker leaving', async () => {
  const metrics = new ClusterMetrics({ log: quiet, defaultMetrics: false, timeoutMs: 1000 });
  const w1 = fakeWorker(1, metrics, await workerSnapshot(5, 2));
  const w2 = fakeWorker(2, metrics, await workerSnapshot(7, 1));
  metrics.workersGauge.set(2);

  let text = (await metrics.render([w1, w2])).body;
  assert.equal(sumSamples(text, 'http_requests_total', { route: '/work' }), 12);
  assert.equal(sumSamples(text, 'http_request_duration_seconds_count'), 12);
  assert.equal(sumSamples(text, 'http_requests_in_flight'), 3);
  assert.equal(sumSamples(text, 'webscale_workers'), 2);

  metrics.workerExited(1); // retired: its counts stay, its gauge goes
  text = (await metrics.render([w2])).body;
  assert.equal(sumSamples(text, 'http_requests_total', { route: '/work' }), 12);
  assert.equal(sumSamples(text, 'http_request_duration_seconds_bucket', { le: '+Inf' }), 12);
  assert.equal(sumSamples(text, 'http_requests_in_flight'), 1);
});

test('a worker that does not answer counts with its last snapshot', async () => {
  const metrics = new ClusterMetrics({ log: quiet, defaultMetrics: false, timeoutMs: 100 });
  const snapshot = await workerSnapshot(4);
  const w1 = fakeWorker(1, metrics, snapshot);
  await metrics.render([w1]);
  const mute = fakeWorker(1, metrics, snapshot, { answers: false });
  const started = Date.now();
  const text = (await metrics.render([mute])).body;
  assert.ok(Date.now() - started < 1000);
  assert.equal(sumSamples(text, 'http_requests_total'), 4);
});

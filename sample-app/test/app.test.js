'use strict';

// app.js on its own: no cluster, no child process; an ephemeral port on
// 127.0.0.1 opened by the test, closed after it.

const assert = require('node:assert/strict');
const http = require('node:http');
const { after, before, describe, test } = require('node:test');
const { createApp } = require('../app');
const { createHttpMetrics } = require('../lib/metrics');
const { MemoryStore } = require('../lib/store');
const { request, sumSamples } = require('./support/http');

function listen(app) {
  return new Promise((resolve) => {
    const server = http.createServer(app);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('the app', () => {
  const state = { workerId: 'w1', draining: false };
  const store = new MemoryStore();
  let server;
  let port;
  const get = (p, o) => request(port, p, o);

  before(async () => {
    server = await listen(createApp({ state, store, metrics: createHttpMetrics({ defaultMetrics: false }) }));
    port = server.address().port;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test('security basics: no x-powered-by, helmet headers, worker id', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-worker-id'], 'w1');
  });

  test('/work and /io do the work they are asked for', async () => {
    const work = await get('/work?ms=20');
    assert.equal(work.status, 200);
    assert.ok(work.json.tookMs >= 20, JSON.stringify(work.json));
    const io = await get('/io?ms=30');
    assert.equal(io.status, 200);
    assert.ok(io.json.tookMs >= 29, JSON.stringify(io.json));
  });

  for (const bad of ['abc', '-1', '1001', '5000', '1e3', '', 'NaN', '0x10', '20&ms=30']) {
    test(`/work?ms=${bad} -> 400 with a JSON error`, async () => {
      const started = Date.now();
      const res = await get(`/work?ms=${bad}`);
      assert.equal(res.status, 400);
      assert.match(res.json.error, /ms must be a number from 0 to 1000/);
      assert.ok(Date.now() - started < 1000);
    });
  }

  for (const bad of ['5001', '-5', 'soon']) {
    test(`/io?ms=${bad} -> 400, not a long wait`, async () => {
      const res = await get(`/io?ms=${bad}`);
      assert.equal(res.status, 400);
      assert.match(res.json.error, /ms must be a number from 0 to 5000/);
    });
  }

  test('counters: POST increments, GET reads, names and increments are checked', async () => {
    assert.equal((await get('/counter/visits', { method: 'POST' })).json.value, 1);
    assert.equal((await get('/counter/visits', { method: 'POST', body: { by: 4 } })).json.value, 5);
    assert.equal((await get('/counter/visits')).json.value, 5);
    assert.equal((await get('/counter/other')).json.value, 0);
    assert.equal((await get('/counter/visits', { method: 'POST', body: { by: 0 } })).status, 400);
    assert.equal((await get('/counter/visits', { method: 'POST', body: { by: '3' } })).status, 400);
    assert.equal((await get(`/counter/${'x'.repeat(65)}`)).status, 400);
    assert.equal((await get('/counter/bad%20name')).status, 400);
  });

  test('bodies: over 10 kB -> 413, broken JSON -> 400, both as JSON', async () => {
    const big = await get('/counter/visits', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(11 * 1024) }) });
    assert.equal(big.status, 413);
    assert.ok(big.json.error);
    const broken = await get('/counter/visits', { method: 'POST', body: '{"by": ' });
    assert.equal(broken.status, 400);
    assert.ok(broken.json.error);
  });

  test('unknown routes -> 404 JSON', async () => {
    const res = await get('/no/such/thing');
    assert.equal(res.status, 404);
    assert.deepEqual(res.json, { error: 'not found' });
  });

  test('metrics use route patterns, "unmatched" for unknown routes, and skip probes', async () => {
    await get('/counter/alpha');
    await get('/counter/beta');
    await get('/random-1234');
    await get('/healthz');
    const text = (await get('/metrics')).text;
    assert.ok(!text.includes('alpha') && !text.includes('random-1234'), 'raw URLs must not become labels');
    assert.ok(sumSamples(text, 'http_requests_total', { route: '/counter/:name', method: 'GET', status: '200' }) >= 2);
    assert.ok(sumSamples(text, 'http_requests_total', { route: 'unmatched', status: '404' }) >= 1);
    assert.equal(sumSamples(text, 'http_requests_total', { route: '/healthz' }), null);
    assert.equal(sumSamples(text, 'http_requests_total', { route: '/metrics' }), null);
    assert.equal(sumSamples(text, 'http_requests_in_flight'), 0);
  });

  test('/healthz is 200; /readyz is 200, then 503 while draining', async () => {
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 200);
    state.draining = true;
    try {
      const res = await get('/readyz');
      assert.equal(res.status, 503);
      assert.equal(res.headers.connection, 'close');
      assert.equal((await get('/healthz')).status, 200, 'alive while draining');
    } finally {
      state.draining = false;
    }
  });
});

describe('the app with a failing store', () => {
  test('store errors are 503 and readiness fails', async () => {
    const broken = {
      kind: 'redis',
      ready: false,
      incr: async () => {
        throw new Error('ECONNREFUSED 127.0.0.1:6379 secret-internal-detail');
      },
      get: async () => {
        throw new Error('ECONNREFUSED');
      },
    };
    const server = await listen(createApp({ store: broken }));
    try {
      const { port } = server.address();
      const res = await request(port, '/counter/x', { method: 'POST' });
      assert.equal(res.status, 503);
      assert.equal(res.json.error, 'state store unavailable');
      assert.ok(!res.text.includes('secret-internal-detail'));
      assert.equal((await request(port, '/readyz')).status, 503);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

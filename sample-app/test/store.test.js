'use strict';

// State outside the process: a real redis-server, two replicas of the app
// with two workers each, 50 increments spread over them -> exactly 50.

const assert = require('node:assert/strict');
const { after, test } = require('node:test');
const { startApp, cleanup, request } = require('./support/app-process');
const { startRedis } = require('./support/redis');

let redis;
after(async () => {
  await cleanup();
  if (redis) await redis.stop();
});

test('a counter in Redis is exact across workers and replicas', async () => {
  redis = await startRedis();
  const env = { WEB_CONCURRENCY: '2', REDIS_URL: redis.url };
  const replicas = await Promise.all([startApp(env, { workers: 2 }), startApp(env, { workers: 2 })]);
  for (const app of replicas) {
    assert.equal((await app.get('/readyz')).status, 200);
    assert.ok(!app.lines.some((l) => /REDIS_URL is not set/.test(l.msg)));
  }

  const name = `visits-${process.pid}-${Date.now()}`;
  const N = 50;
  const values = [];
  const servedBy = new Set();
  let next = 0;
  async function client() {
    while (next < N) {
      const i = next;
      next += 1;
      const app = replicas[i % replicas.length];
      const res = await request(app.port, `/counter/${name}`, { method: 'POST' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.store, 'redis');
      values.push(res.json.value);
      servedBy.add(`${app.port}/${res.headers['x-worker-id']}`);
    }
  }
  await Promise.all([client(), client(), client(), client(), client()]);

  // INCR is atomic: every value from 1 to 50 handed out exactly once.
  assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1));
  assert.ok(servedBy.size >= 3, `served by ${[...servedBy].join(', ')}`);
  for (const app of replicas) {
    for (let i = 0; i < 2; i += 1) {
      const res = await app.get(`/counter/${name}`);
      assert.equal(res.json.value, N);
    }
  }
});

test('without Redis reachable, readiness fails and counters answer 503, fast', async () => {
  const { port } = redis; // stop the server: the app must notice
  await redis.stop();
  redis = null;
  const app = await startApp({ WEB_CONCURRENCY: '1', REDIS_URL: `redis://127.0.0.1:${port}` }, { workers: 1 });
  assert.equal((await app.get('/readyz')).status, 503);
  const started = Date.now();
  const res = await app.get('/counter/x', { method: 'POST' });
  assert.equal(res.status, 503);
  assert.ok(Date.now() - started < 2000);
  assert.equal((await app.get('/healthz')).status, 200, 'alive even so');
});

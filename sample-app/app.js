'use strict';

// Builds the Express app and nothing else: no port, no cluster, no signals.
// bin/www.js runs the cluster primary; lib/worker.js gives each worker this
// app and listens. Tests build it directly.

const express = require('express');
const helmet = require('helmet');
const { createHttpMetrics } = require('./lib/metrics');
const { MemoryStore } = require('./lib/store');
const { parseMs, burnCpu, waitIo, BadRequest, MAX_WORK_MS, MAX_IO_MS } = require('./lib/work');

const COUNTER_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_INCREMENT = 1000;

const silentLog = { debug() {}, info() {}, warn() {}, error() {} };

function round(ms) {
  return Math.round(ms * 100) / 100;
}

function counterName(req) {
  const { name } = req.params;
  if (!COUNTER_NAME.test(name)) {
    throw new BadRequest('counter name must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  }
  return name;
}

function increment(body) {
  if (body === undefined || body === null || body.by === undefined) return 1;
  const { by } = body;
  if (!Number.isSafeInteger(by) || by < 1 || by > MAX_INCREMENT) {
    throw new BadRequest(`"by" must be an integer from 1 to ${MAX_INCREMENT}`);
  }
  return by;
}

/** Store failures (Redis down) are the service's trouble, not the client's: 503. */
async function fromStore(promise) {
  try {
    return await promise;
  } catch (err) {
    const wrapped = new Error('state store unavailable', { cause: err });
    wrapped.status = 503;
    wrapped.expose = true;
    throw wrapped;
  }
}

/**
 * createApp(options) -> express application
 * @param {object} [o]
 * @param {object} [o.store] MemoryStore | RedisStore (lib/store.js)
 * @param {object} [o.metrics] createHttpMetrics() result (lib/metrics.js)
 * @param {{workerId: number|string, draining: boolean}} [o.state] shared with lib/worker.js
 * @param {() => Promise<{contentType: string, body: string}>} [o.scrapeMetrics]
 *   what /metrics serves; in the cluster it asks the primary for the sum
 *   over all workers, standalone it renders this process's registry.
 * @param {object} [o.log]
 */
function createApp({
  store = new MemoryStore(),
  metrics = createHttpMetrics({ defaultMetrics: false }),
  state = { workerId: 0, draining: false },
  scrapeMetrics,
  log = silentLog,
} = {}) {
  const scrape =
    scrapeMetrics ||
    (async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }));

  const app = express();
  app.disable('x-powered-by');
  app.use(metrics.middleware);
  app.use((req, res, next) => {
    res.setHeader('x-worker-id', String(state.workerId));
    // While draining, ask every client to open its next connection elsewhere.
    if (state.draining) res.setHeader('Connection', 'close');
    next();
  });
  app.use(helmet());
  app.use(express.json({ limit: '10kb' }));

  app.get('/', (req, res) => {
    res.json({ service: 'webscale-sample-app', worker: state.workerId, store: store.kind });
  });

  app.get('/healthz', (req, res) => {
    res.json({ status: 'ok', worker: state.workerId, pid: process.pid });
  });

  app.get('/readyz', (req, res) => {
    if (state.draining) return res.status(503).json({ status: 'draining' });
    if (!store.ready) return res.status(503).json({ status: 'store unavailable', store: store.kind });
    return res.json({ status: 'ready' });
  });

  app.get('/metrics', async (req, res) => {
    const { contentType, body } = await scrape();
    res.set('Cache-Control', 'no-store');
    res.type(contentType).send(body);
  });

  app.get('/work', (req, res) => {
    const ms = parseMs(req.query.ms, 10, MAX_WORK_MS);
    const { tookMs } = burnCpu(ms);
    res.json({ worker: state.workerId, ms, tookMs: round(tookMs) });
  });

  app.get('/io', async (req, res) => {
    const ms = parseMs(req.query.ms, 50, MAX_IO_MS);
    const { tookMs } = await waitIo(ms);
    res.json({ worker: state.workerId, ms, tookMs: round(tookMs) });
  });

  app.get('/counter/:name', async (req, res) => {
    const name = counterName(req);
    const value = await fromStore(store.get(name));
    res.json({ name, value, worker: state.workerId, store: store.kind });
  });

  app.post('/counter/:name', async (req, res) => {
    const name = counterName(req);
    const by = increment(req.body);
    const value = await fromStore(store.incr(name, by));
    res.json({ name, value, worker: state.workerId, store: store.kind });
  });

  app.use((req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  // Express 5 routes rejected promises here too. Client errors say what was
  // wrong; server errors say nothing about internals.
  app.use((err, req, res, _next) => {
    const status = Number(err.status || err.statusCode) || 500;
    if (status >= 500) log.error('request failed', { method: req.method, url: req.originalUrl, err: err.cause || err });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = err.expose || status < 500 ? err.message : 'internal error';
    res.status(status).json({ error: message });
  });

  return app;
}

module.exports = { createApp };

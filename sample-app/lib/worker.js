'use strict';

// One cluster worker: builds the app, listens on the shared port and obeys
// the primary. It ignores SIGTERM/SIGINT itself (a Ctrl-C reaches the whole
// process group): the primary decides when and how each worker stops.

const cluster = require('node:cluster');
const { once } = require('node:events');
const http = require('node:http');
const { setTimeout: sleep } = require('node:timers/promises');
const { createApp } = require('../app');
const { createDrainer } = require('./drain');
const { TYPES, createPrimaryClient } = require('./ipc');
const { createHttpMetrics } = require('./metrics');
const { createStore } = require('./store');

function send(message) {
  return new Promise((resolve) => {
    if (!process.connected) return resolve(false);
    try {
      process.send(message, () => resolve(true));
    } catch {
      resolve(false);
    }
    return undefined;
  });
}

async function runWorker({ config, log: baseLog }) {
  const workerId = cluster.worker.id;
  const log = baseLog.child({ role: 'worker', worker: workerId, pid: process.pid });
  const state = { workerId, draining: false };
  const metrics = createHttpMetrics();
  let server = null;
  let drainer = null;
  let stopping = null;

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => log.debug('signal ignored; the primary coordinates shutdown', { signal }));
  }

  async function stop(graceMs) {
    state.draining = true; // readiness fails, responses say Connection: close
    const started = Date.now();
    if (server && !server.listening) {
      // listen() was called but the primary has not handed us the port yet:
      // wait for it, or connections routed to us meanwhile would be dropped.
      const ac = new AbortController();
      await Promise.race([
        once(server, 'listening', { signal: ac.signal }),
        sleep(Math.min(graceMs, 2000), undefined, { signal: ac.signal }),
      ]).catch(() => {});
      ac.abort();
    }
    const { cut } = drainer ? await drainer.stop(Math.max(0, graceMs - (Date.now() - started))) : { cut: 0 };
    if (cut > 0) log.error('grace period over; requests cut off', { cut, graceMs });
    await store?.close();
    // The final snapshot is taken after the last response: the primary keeps
    // these counts in the pod's totals after this worker is gone.
    await send({ type: TYPES.final, metrics: await metrics.snapshot(), cut });
    log.info('worker stopped', { tookMs: Date.now() - started, cut });
    // The primary answers `final` with worker.disconnect(); if it cannot,
    // leave on our own.
    setTimeout(() => process.exit(0), 2000).unref();
  }

  let store = null;
  // Registered before anything async, so no message from the primary is lost.
  process.on('message', (message) => {
    if (!message || typeof message.type !== 'string') return;
    if (message.type === TYPES.snapshotReq) {
      metrics
        .snapshot()
        .then((snapshot) => send({ type: TYPES.snapshot, id: message.id, metrics: snapshot }))
        .catch((err) => log.error('metrics snapshot failed', { err }));
    } else if (message.type === TYPES.drain) {
      state.draining = true;
      log.info('draining: readiness fails, still serving');
    } else if (message.type === TYPES.stop) {
      const graceMs = Number.isFinite(message.graceMs) ? message.graceMs : config.shutdownGraceMs;
      stopping = stopping || stop(graceMs);
    }
  });

  store = await createStore({ redisUrl: config.redisUrl, log });
  const app = createApp({ store, metrics, state, scrapeMetrics: createPrimaryClient(), log });
  server = http.createServer(app);
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  drainer = createDrainer(server);
  server.on('error', (err) => {
    log.error('server error; worker exits', { err, host: config.host, port: config.port });
    process.exit(1);
  });
  if (stopping) {
    await store.close(); // told to stop while starting: do not listen at all
    return;
  }
  server.listen(config.port, config.host);
}

module.exports = { runWorker };

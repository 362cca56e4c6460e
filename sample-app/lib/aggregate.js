'use strict';

// The primary's view of the metrics: the exact sum over every worker of the
// pod, plus the primary's own metrics, rendered with prom-client's
// AggregatorRegistry.aggregate().
//
// Why not AggregatorRegistry#clusterMetrics()? It only sums the workers alive
// at scrape time, so when a worker is retired (scale-down) or dies, its
// counts vanish and every counter of the pod goes *down* - Prometheus'
// rate() reads that as a counter reset and invents a spike. Here the primary
// keeps each worker's latest snapshot (refreshed on every scrape, and a
// final one sent by a retiring worker after its last request), and when a
// worker exits it folds that snapshot's counters and histograms into a
// running "retired" total that stays in the sum. Gauges of an exited worker
// (in-flight, memory, ...) are dropped, as they should be.
//
// Exactness: a retired worker's final snapshot is taken after its last
// response, so nothing is lost. A worker that crashes loses only what it
// counted since the last scrape - values no scrape had seen, so counters
// still never decrease.

const client = require('prom-client');
const { TYPES } = require('./ipc');

const { AggregatorRegistry } = client;
const FOLDABLE_TYPES = new Set(['counter', 'histogram']);

function labelKey(value) {
  const labels = value.labels || {};
  const keys = Object.keys(labels).sort();
  return `${value.metricName || ''}{${keys.map((k) => `${k}=${JSON.stringify(String(labels[k]))}`).join(',')}}`;
}

/** Add the counters and histograms of `snapshot` into `acc` (Map by name). */
function foldInto(acc, snapshot) {
  for (const metric of snapshot) {
    if (!FOLDABLE_TYPES.has(metric.type) || (metric.aggregator || 'sum') !== 'sum') continue;
    let target = acc.get(metric.name);
    if (!target) {
      target = { name: metric.name, help: metric.help, type: metric.type, values: new Map() };
      acc.set(metric.name, target);
    }
    for (const value of metric.values) {
      const key = labelKey(value);
      const existing = target.values.get(key);
      if (existing) {
        existing.value += value.value;
      } else {
        const copy = { value: value.value, labels: { ...value.labels } };
        if (value.metricName) copy.metricName = value.metricName;
        target.values.set(key, copy);
      }
    }
  }
  return acc;
}

function accToSnapshot(acc) {
  return [...acc.values()].map((m) => ({
    name: m.name,
    help: m.help,
    type: m.type,
    aggregator: 'sum',
    values: [...m.values.values()].map((v) => ({ ...v, labels: { ...v.labels } })),
  }));
}

class ClusterMetrics {
  constructor({ log, timeoutMs = 2000, defaultMetrics = true } = {}) {
    this.log = log;
    this.timeoutMs = timeoutMs;
    this.registry = new client.Registry();
    if (defaultMetrics) client.collectDefaultMetrics({ register: this.registry });
    this.workersGauge = new client.Gauge({
      name: 'webscale_workers',
      help: 'Cluster workers serving requests in this pod (listening and not retiring).',
      registers: [this.registry],
    });
    this.desiredGauge = new client.Gauge({
      name: 'webscale_workers_desired',
      help: 'Cluster workers this pod is asked to run (annotation, WEB_CONCURRENCY or CPU quota).',
      registers: [this.registry],
    });
    this.crashes = new client.Counter({
      name: 'webscale_worker_crashes_total',
      help: 'Workers that exited without being asked to.',
      registers: [this.registry],
    });
    this.latest = new Map(); // worker id -> last snapshot (getMetricsAsJSON output)
    this.retired = new Map(); // folded counters/histograms of exited workers
    this.pending = new Map(); // request id -> { waiting: Set<worker id>, done }
    this.seq = 0;
  }

  /** A worker sent a snapshot (answer to a request, or its final one). */
  onSnapshot(workerId, message) {
    if (Array.isArray(message.metrics)) this.latest.set(workerId, message.metrics);
    if (message.id !== undefined) this.answered(message.id, workerId);
  }

  answered(requestId, workerId) {
    const request = this.pending.get(requestId);
    if (request && request.waiting.delete(workerId) && request.waiting.size === 0) request.done();
  }

  /** A worker exited: keep its counters in the total, drop its gauges. */
  workerExited(workerId) {
    const snapshot = this.latest.get(workerId);
    this.latest.delete(workerId);
    if (snapshot) foldInto(this.retired, snapshot);
    for (const id of this.pending.keys()) this.answered(id, workerId);
  }

  /** Ask every connected worker for a fresh snapshot; wait at most timeoutMs. */
  refresh(workers) {
    this.seq += 1;
    const id = this.seq;
    const waiting = new Set();
    for (const worker of workers) {
      if (!worker.isConnected()) continue;
      try {
        // With a callback, a closed channel reports here instead of emitting 'error'.
        worker.send({ type: TYPES.snapshotReq, id }, (err) => {
          if (err) this.answered(id, worker.id);
        });
        waiting.add(worker.id);
      } catch {
        // channel closing: its last snapshot (or final one) is used
      }
    }
    if (waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.log.warn('metrics: workers did not answer in time; using their last snapshot', {
          workers: [...waiting],
          timeoutMs: this.timeoutMs,
        });
        resolve();
      }, this.timeoutMs);
      this.pending.set(id, {
        waiting,
        done: () => {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve();
        },
      });
    });
  }

  /** The pod's metrics in the Prometheus text format. */
  async render(workers) {
    await this.refresh(workers);
    const own = await this.registry.getMetricsAsJSON();
    // Taken together and synchronously: a worker is either in `latest` or
    // folded into `retired`, never both, never neither.
    const parts = [...this.latest.values(), accToSnapshot(this.retired), own];
    const registry = AggregatorRegistry.aggregate(parts);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}

module.exports = { ClusterMetrics, foldInto, accToSnapshot };

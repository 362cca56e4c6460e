'use strict';

// The cluster primary: serves no HTTP itself. It keeps the pod at the desired
// number of workers (annotation > WEB_CONCURRENCY > cgroup CPU quota >
// availableParallelism), replaces crashed workers behind a crash-loop guard,
// retires workers gracefully on scale-down, aggregates metrics, and runs the
// SIGTERM drain:
//
//   SIGTERM -> every worker fails /readyz but keeps serving for
//   SHUTDOWN_DELAY_MS (so endpoints and load balancers notice) -> workers stop
//   accepting and finish in-flight requests -> exit 0. All inside
//   SHUTDOWN_GRACE_MS; if requests had to be cut off, exit 1.

const cluster = require('node:cluster');
const { setTimeout: sleep } = require('node:timers/promises');
const { ClusterMetrics } = require('./aggregate');
const { CrashGuard } = require('./crash-guard');
const { TYPES } = require('./ipc');
const { AnnotationWatcher, planResize } = require('./resize');
const { resolveWorkerCount, MAX_WORKERS } = require('./workers');

const STOP_MARGIN_MS = 300; // time a worker gets, after its grace, to report and exit

/**
 * Send to a worker without ever throwing or emitting 'error': a send on a
 * closed channel without a callback emits 'error' on the worker, which
 * would crash the primary.
 */
function sendTo(worker, message) {
  if (!worker.isConnected()) return false;
  try {
    worker.send(message, () => {});
    return true;
  } catch {
    return false;
  }
}

class Supervisor {
  constructor({ config, log, metrics, exit = (code) => process.exit(code) }) {
    this.config = config;
    this.log = log;
    this.metrics = metrics;
    this.exit = exit;
    this.entries = new Map(); // cluster worker id -> { worker, state, killTimer }
    this.desired = 0;
    this.guard = new CrashGuard({ limit: config.crashLimit, windowMs: config.crashWindowMs });
    this.resumeTimer = null;
    this.shuttingDown = false;
    this.shutdownPromise = null;
    this.cut = 0;
    this.onAllStopped = null;
    this.announced = false;
  }

  start(desired, source) {
    cluster.on('message', (worker, message) => this.onMessage(worker, message));
    cluster.on('listening', (worker, address) => this.onListening(worker, address));
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    this.setDesired(desired, source);
  }

  count(...states) {
    let n = 0;
    for (const entry of this.entries.values()) if (states.includes(entry.state)) n += 1;
    return n;
  }

  updateGauges() {
    this.metrics.workersGauge.set(this.count('online'));
    this.metrics.desiredGauge.set(this.desired);
  }

  setDesired(count, source) {
    if (this.shuttingDown) return;
    if (count !== this.desired) this.log.info('worker count set', { from: this.desired, to: count, source });
    this.desired = count;
    this.reconcile();
  }

  reconcile() {
    if (this.shuttingDown) return;
    const active = [...this.entries.values()]
      .filter((e) => e.state === 'starting' || e.state === 'online')
      .map((e) => ({ id: e.worker.id, state: e.state }));
    const plan = planResize(active, this.desired);
    for (const id of plan.retire) this.retire(this.entries.get(id), 'scale down');
    if (plan.fork > 0) {
      const guard = this.guard.state(Date.now());
      if (guard.tripped) this.scheduleResume(guard.resumeAt);
      else for (let i = 0; i < plan.fork; i += 1) this.fork();
    }
    this.updateGauges();
  }

  fork() {
    const worker = cluster.fork();
    worker.on('error', (err) => this.log.warn('worker channel error', { worker: worker.id, err }));
    this.entries.set(worker.id, { worker, state: 'starting', killTimer: null });
    this.log.debug('worker forked', { worker: worker.id, workerPid: worker.process.pid });
  }

  scheduleResume(at) {
    if (this.resumeTimer) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.log.warn('crash-loop window passed; replacing workers again');
      this.reconcile();
    }, Math.max(0, at - Date.now()));
  }

  onListening(worker, address) {
    const entry = this.entries.get(worker.id);
    if (!entry || entry.state !== 'starting') return;
    entry.state = 'online';
    if (!this.announced) {
      this.announced = true;
      this.log.info('listening', { host: address.address, port: address.port });
    }
    this.log.info('worker online', { worker: worker.id, workerPid: worker.process.pid, online: this.count('online') });
    this.updateGauges();
  }

  stopWorker(entry, graceMs) {
    clearTimeout(entry.killTimer);
    sendTo(entry.worker, { type: TYPES.stop, graceMs: Math.max(0, graceMs) }); // if closed, it is leaving anyway
    entry.killTimer = setTimeout(() => {
      this.log.error('worker did not exit in time; killing it', { worker: entry.worker.id, workerPid: entry.worker.process.pid });
      entry.worker.process.kill('SIGKILL');
    }, Math.max(0, graceMs) + STOP_MARGIN_MS + 1000);
  }

  retire(entry, reason) {
    entry.state = 'retiring';
    this.log.info('retiring worker', { worker: entry.worker.id, workerPid: entry.worker.process.pid, reason });
    this.stopWorker(entry, this.config.shutdownGraceMs);
  }

  onMessage(worker, message) {
    if (!message || typeof message.type !== 'string') return;
    if (message.type === TYPES.snapshot) {
      this.metrics.onSnapshot(worker.id, message);
    } else if (message.type === TYPES.final) {
      this.metrics.onSnapshot(worker.id, message);
      if (this.shuttingDown) this.cut += Number(message.cut) || 0; // decides the exit code
      // The documented graceful retirement: its server is already closed and
      // its requests answered, so this only closes the IPC channel; the
      // worker then exits on its own.
      if (worker.isConnected()) worker.disconnect();
    } else if (message.type === TYPES.scrape) {
      this.serveScrape(worker, message.id);
    }
  }

  async serveScrape(worker, id) {
    let reply;
    try {
      const workers = [...this.entries.values()].map((e) => e.worker);
      const { contentType, body } = await this.metrics.render(workers);
      reply = { type: TYPES.scrapeResult, id, ok: true, contentType, body };
    } catch (err) {
      this.log.error('metrics aggregation failed', { err });
      reply = { type: TYPES.scrapeResult, id, ok: false, error: err.message };
    }
    sendTo(worker, reply); // fails only if the asking worker left meanwhile
  }

  onExit(worker, code, signal) {
    const entry = this.entries.get(worker.id);
    this.entries.delete(worker.id);
    this.metrics.workerExited(worker.id);
    if (!entry) return;
    clearTimeout(entry.killTimer);
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };

    if (entry.state === 'retiring' || this.shuttingDown) {
      this.log.info('worker exited', fields);
      this.updateGauges();
      if (this.shuttingDown && this.entries.size === 0 && this.onAllStopped) this.onAllStopped();
      else this.reconcile();
      return;
    }

    this.metrics.crashes.inc();
    const guard = this.guard.record(Date.now());
    this.log.error('worker died unexpectedly', { ...fields, crashesInWindow: guard.recent });
    if (guard.tripped) {
      this.log.error('CRASH LOOP: workers keep dying; not replacing them until the crash window passes', {
        crashesInWindow: guard.recent,
        limit: this.config.crashLimit,
        windowMs: this.config.crashWindowMs,
        resumeInMs: guard.resumeAt - Date.now(),
        workersLeft: this.count('starting', 'online'),
      });
      if (this.count('starting', 'online') === 0) {
        this.log.error('all workers are gone; exiting so the kubelet restarts the pod with back-off');
        this.exit(1);
        return;
      }
    }
    this.reconcile();
  }

  shutdown(signal) {
    if (this.shutdownPromise) {
      this.log.warn('already shutting down', { signal });
      return this.shutdownPromise;
    }
    this.shuttingDown = true;
    this.shutdownPromise = this.runShutdown(signal);
    return this.shutdownPromise;
  }

  async runShutdown(signal) {
    const { shutdownGraceMs: grace, shutdownDelayMs: delay } = this.config;
    const deadline = Date.now() + grace;
    clearTimeout(this.resumeTimer);
    this.log.info('shutting down: readiness fails from now on, still serving', { signal, delayMs: delay, graceMs: grace });
    for (const entry of this.entries.values()) sendTo(entry.worker, { type: TYPES.drain });
    await sleep(delay);

    this.log.info('closing listeners; finishing in-flight requests', { workers: this.entries.size });
    const allStopped = new Promise((resolve) => {
      this.onAllStopped = resolve;
    });
    for (const entry of this.entries.values()) {
      entry.state = 'retiring';
      this.stopWorker(entry, deadline - Date.now() - STOP_MARGIN_MS);
    }
    this.updateGauges();
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()) + STOP_MARGIN_MS);
    });
    const outcome = this.entries.size === 0 ? 'stopped' : await Promise.race([allStopped, timedOut]);
    clearTimeout(timer);

    if (outcome === 'timeout') {
      this.log.error('grace period over; killing the workers left', { workers: [...this.entries.keys()] });
      for (const entry of this.entries.values()) entry.worker.process.kill('SIGKILL');
      this.exit(1);
    } else if (this.cut > 0) {
      this.log.error('shutdown finished, but requests were cut off at the end of the grace period', { cut: this.cut });
      this.exit(1);
    } else {
      this.log.info('shutdown complete: all requests answered');
      this.exit(0);
    }
  }
}

/** Start-up count: a valid annotation wins, then WEB_CONCURRENCY, then CPUs. */
function initialWorkers({ config, watcher, log }) {
  const fromAnnotation = watcher.current();
  if (fromAnnotation.status === 'ok') return { count: fromAnnotation.value, source: 'annotation' };
  const resolved = resolveWorkerCount({
    webConcurrency: config.webConcurrency,
    cgroupRoot: config.cgroupRoot,
    procSelfCgroup: config.procSelfCgroup,
  });
  log.info('worker count resolved', { count: resolved.count, source: resolved.source, ...resolved.detail });
  return resolved;
}

function runPrimary({ config, log: baseLog }) {
  const log = baseLog.child({ role: 'primary', pid: process.pid });
  const metrics = new ClusterMetrics({ log });
  const supervisor = new Supervisor({ config, log, metrics });
  const watcher = new AnnotationWatcher({
    file: config.annotationsFile,
    pollMs: config.annotationsPollMs,
    max: MAX_WORKERS,
    log,
  });

  if (!config.redisUrl) {
    log.warn('REDIS_URL is not set: counters live in each worker\'s memory, so workers and replicas disagree; set REDIS_URL for shared state');
  }

  const { count, source } = initialWorkers({ config, watcher, log });
  log.info('starting', { workers: count, source, host: config.host, port: config.port, node: process.version });
  supervisor.start(count, source);

  watcher.on('workers', (n) => supervisor.setDesired(n, 'annotation'));
  watcher.start();

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      watcher.stop();
      supervisor.shutdown(signal);
    });
  }
  return supervisor;
}

module.exports = { runPrimary, Supervisor };

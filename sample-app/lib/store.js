'use strict';

// Where state lives. With REDIS_URL, counters live in Redis, so any worker of
// any replica can serve any user and pods stay interchangeable (the operator
// injects REDIS_URL from spec.state.redisURL). Without it, each worker keeps
// its own in-memory map: fine for a demo, wrong as soon as there are two
// workers - the primary logs a warning at start-up.

const KEY_PREFIX = 'webscale:counter:';

class MemoryStore {
  constructor() {
    this.kind = 'memory';
    this.counters = new Map();
  }

  get ready() {
    return true;
  }

  async incr(name, by = 1) {
    const value = (this.counters.get(name) || 0) + by;
    this.counters.set(name, value);
    return value;
  }

  async get(name) {
    return this.counters.get(name) || 0;
  }

  async close() {}
}

class RedisStore {
  constructor(redisClient) {
    this.kind = 'redis';
    this.client = redisClient;
  }

  /** Readiness follows the connection: no Redis, no traffic for this pod. */
  get ready() {
    return this.client.isReady;
  }

  async incr(name, by = 1) {
    return Number(await this.client.incrBy(KEY_PREFIX + name, by));
  }

  async get(name) {
    const value = await this.client.get(KEY_PREFIX + name);
    return value === null ? 0 : Number(value);
  }

  async close() {
    try {
      if (this.client.isOpen) await this.client.close();
    } catch {
      this.client.destroy();
    }
  }
}

/** Wait for `promise` at most `ms`; resolve to false on timeout. */
function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

/**
 * createStore({ redisUrl, log, connectTimeoutMs }) -> MemoryStore | RedisStore
 * With Redis, start-up waits up to connectTimeoutMs for the first connection,
 * then goes on regardless: /readyz reports 503 until Redis answers, and
 * commands fail fast (no offline queue) instead of hanging requests.
 */
async function createStore({ redisUrl, log, connectTimeoutMs = 2000 }) {
  if (!redisUrl) return new MemoryStore();
  // Required lazily: a worker without Redis does not pay for loading it.
  const { createClient } = require('redis');
  const redisClient = createClient({
    url: redisUrl,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000),
    },
  });
  let healthy = null;
  redisClient.on('ready', () => {
    if (healthy !== true) log.info('redis connected');
    healthy = true;
  });
  redisClient.on('error', (err) => {
    // Logged on the transition only: a reconnect loop would flood the log.
    if (healthy !== false) log.warn('redis unavailable; retrying', { err });
    healthy = false;
  });
  const connecting = redisClient.connect().catch((err) => {
    log.warn('redis connect failed', { err });
  });
  if (!(await within(connecting, connectTimeoutMs))) {
    log.warn('redis not reachable yet; serving with readiness failing until it is', { timeoutMs: connectTimeoutMs });
  }
  return new RedisStore(redisClient);
}

module.exports = { createStore, MemoryStore, RedisStore, KEY_PREFIX };

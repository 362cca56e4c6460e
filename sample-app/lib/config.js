'use strict';

// Every setting the app reads from its environment, in one typed object.
// Invalid values stop start-up with a message that names the variable and
// the value (the entry prints it and exits 1); nothing is silently clamped.

const { parseWorkerCount, DEFAULT_CGROUP_ROOT, MAX_WORKERS } = require('./workers');
const { LEVELS } = require('./log');

class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

function isUnset(value) {
  return value === undefined || value === '';
}

function intSetting(env, name, { def, min, max }) {
  const raw = env[name];
  if (isUnset(raw)) return def;
  const text = String(raw).trim();
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(String(raw))} is invalid; expected an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * readConfig(env) -> config. Throws ConfigError.
 *
 * | variable                     | default                   |
 * | ---------------------------- | ------------------------- |
 * | PORT                         | 3000 (0 = any free port)  |
 * | HOST                         | 0.0.0.0                   |
 * | WEB_CONCURRENCY              | from cgroup CPU quota     |
 * | WEBSCALE_CGROUP_ROOT         | /sys/fs/cgroup            |
 * | WEBSCALE_PROC_SELF_CGROUP    | /proc/self/cgroup         |
 * | WEBSCALE_ANNOTATIONS_FILE    | /etc/podinfo/annotations  |
 * | WEBSCALE_ANNOTATIONS_POLL_MS | 500                       |
 * | WEBSCALE_CRASH_LIMIT         | 5 (crashes tolerated ...) |
 * | WEBSCALE_CRASH_WINDOW_MS     | 60000 (... in this window)|
 * | SHUTDOWN_GRACE_MS            | 10000                     |
 * | SHUTDOWN_DELAY_MS            | 2000                      |
 * | KEEP_ALIVE_TIMEOUT_MS        | 5000                      |
 * | REDIS_URL                    | unset = in-memory store   |
 * | LOG_LEVEL                    | info                      |
 */
function readConfig(env = process.env) {
  let webConcurrency = null;
  if (!isUnset(env.WEB_CONCURRENCY)) {
    const parsed = parseWorkerCount(env.WEB_CONCURRENCY, { name: 'WEB_CONCURRENCY', max: MAX_WORKERS });
    if (!parsed.ok) throw new ConfigError(parsed.error);
    webConcurrency = parsed.value;
  }

  const logLevel = isUnset(env.LOG_LEVEL) ? 'info' : String(env.LOG_LEVEL).toLowerCase();
  if (!(logLevel in LEVELS)) {
    throw new ConfigError(`LOG_LEVEL=${JSON.stringify(env.LOG_LEVEL)} is invalid; expected one of ${Object.keys(LEVELS).join(', ')}`);
  }

  const shutdownGraceMs = intSetting(env, 'SHUTDOWN_GRACE_MS', { def: 10000, min: 100, max: 600000 });
  const shutdownDelayMs = intSetting(env, 'SHUTDOWN_DELAY_MS', { def: 2000, min: 0, max: 600000 });
  if (shutdownDelayMs >= shutdownGraceMs) {
    throw new ConfigError(
      `SHUTDOWN_DELAY_MS=${shutdownDelayMs} must be shorter than SHUTDOWN_GRACE_MS=${shutdownGraceMs} (in-flight requests need time to finish)`,
    );
  }

  return Object.freeze({
    port: intSetting(env, 'PORT', { def: 3000, min: 0, max: 65535 }),
    host: isUnset(env.HOST) ? '0.0.0.0' : String(env.HOST),
    webConcurrency,
    cgroupRoot: isUnset(env.WEBSCALE_CGROUP_ROOT) ? DEFAULT_CGROUP_ROOT : env.WEBSCALE_CGROUP_ROOT,
    procSelfCgroup: isUnset(env.WEBSCALE_PROC_SELF_CGROUP) ? '/proc/self/cgroup' : env.WEBSCALE_PROC_SELF_CGROUP,
    annotationsFile: isUnset(env.WEBSCALE_ANNOTATIONS_FILE) ? '/etc/podinfo/annotations' : env.WEBSCALE_ANNOTATIONS_FILE,
    annotationsPollMs: intSetting(env, 'WEBSCALE_ANNOTATIONS_POLL_MS', { def: 500, min: 50, max: 60000 }),
    crashLimit: intSetting(env, 'WEBSCALE_CRASH_LIMIT', { def: 5, min: 0, max: 1000 }),
    crashWindowMs: intSetting(env, 'WEBSCALE_CRASH_WINDOW_MS', { def: 60000, min: 1000, max: 3600000 }),
    shutdownGraceMs,
    shutdownDelayMs,
    keepAliveTimeoutMs: intSetting(env, 'KEEP_ALIVE_TIMEOUT_MS', { def: 5000, min: 0, max: 600000 }),
    redisUrl: isUnset(env.REDIS_URL) ? null : String(env.REDIS_URL),
    logLevel,
  });
}

module.exports = { readConfig, ConfigError };

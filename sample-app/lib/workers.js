'use strict';

// How many cluster workers a pod runs.
//
//   1. WEB_CONCURRENCY, when set (the gunicorn/Heroku convention) - validated;
//   2. otherwise the container's CPU allowance from cgroups: v2 `cpu.max`
//      (quota/period) or v1 `cpu.cfs_quota_us / cpu.cfs_period_us`, rounded
//      down, at least 1;
//   3. only when there is no quota at all: os.availableParallelism().
//
// Never os.cpus().length: it reports the node's cores and ignores the cgroup
// limit (nodejs/node#28762), which is how PM2 forked 48 workers in a 2-CPU
// container (Unitech/pm2#4347). Node 20's availableParallelism() is not
// quota-aware either (libuv 1.49 / Node 22.12 made it so), hence step 2.
//
// The live annotation `webscale.dev/workers` (lib/resize.js) overrides all of
// this while the pod runs; see lib/primary.js.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MAX_WORKERS = 64;
const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
const DEFAULT_PROC_SELF_CGROUP = '/proc/self/cgroup';

/**
 * Parse a worker count given by a person or the operator (env var or
 * annotation). Only plain decimal integers 1..max: "abc", "0", "-2", "1e9",
 * "2.5" and "3 workers" are all refused.
 * @returns {{ok: true, value: number} | {ok: false, error: string}}
 */
function parseWorkerCount(raw, { name = 'WEB_CONCURRENCY', max = MAX_WORKERS } = {}) {
  const text = String(raw).trim();
  const shown = JSON.stringify(String(raw));
  if (!/^[0-9]+$/.test(text)) {
    return { ok: false, error: `${name}=${shown} is not a whole number; expected an integer from 1 to ${max}` };
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    return { ok: false, error: `${name}=${shown} is out of range; expected an integer from 1 to ${max}` };
  }
  return { ok: true, value };
}

function readTrimmed(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

const POSITIVE_INT = /^[1-9][0-9]*$/;

/** cgroup v2 `cpu.max`: "max 100000" (no quota) or "<quota> <period>". */
function parseCpuMax(text) {
  const parts = text.split(/\s+/);
  if (parts.length !== 2 || !POSITIVE_INT.test(parts[1])) return { kind: 'invalid' };
  if (parts[0] === 'max') return { kind: 'unlimited' };
  if (!POSITIVE_INT.test(parts[0])) return { kind: 'invalid' };
  return { kind: 'limit', cpus: Number(parts[0]) / Number(parts[1]) };
}

/** cgroup v1: cpu.cfs_quota_us is -1 when there is no quota. */
function parseCfs(quotaText, periodText) {
  if (quotaText === '-1') return { kind: 'unlimited' };
  if (!POSITIVE_INT.test(quotaText ?? '') || !POSITIVE_INT.test(periodText ?? '')) return { kind: 'invalid' };
  return { kind: 'limit', cpus: Number(quotaText) / Number(periodText) };
}

/** Our own cgroup paths from /proc/self/cgroup: { v2: '/a/b', v1: '/x/y' }. */
function ownCgroupPaths(procSelfCgroup) {
  const text = readTrimmed(procSelfCgroup);
  const paths = { v2: null, v1: null };
  if (!text) return paths;
  for (const line of text.split('\n')) {
    const [id, controllers, p] = line.split(':');
    if (p === undefined || !p.startsWith('/')) continue;
    if (id === '0' && controllers === '') paths.v2 = p;
    else if (controllers.split(',').includes('cpu')) paths.v1 = p;
  }
  return paths;
}

/** '/a/b' -> ['/a/b', '/a', '/']; a limit on any ancestor applies too. */
function ancestry(p) {
  if (!p) return ['/'];
  const out = [];
  let cur = path.posix.normalize(p);
  for (let i = 0; i < 64; i += 1) {
    out.push(cur);
    if (cur === '/') break;
    cur = path.posix.dirname(cur);
  }
  return out;
}

/**
 * The CPU allowance (fractional cores) from cgroup files under `root`.
 * Looks at the cgroup root itself (a container with a cgroup namespace sees
 * its own cgroup there) and at our cgroup path and its ancestors (no
 * namespace); the smallest limit wins. Missing or garbage files are skipped.
 * @returns {{cpus: number, file: string} | null} null when there is no quota.
 */
function cgroupCpuLimit({ root = DEFAULT_CGROUP_ROOT, procSelfCgroup = DEFAULT_PROC_SELF_CGROUP } = {}) {
  const own = ownCgroupPaths(procSelfCgroup);
  const candidates = [];
  for (const rel of new Set(['/', ...ancestry(own.v2)])) {
    const file = path.join(root, rel, 'cpu.max');
    const text = readTrimmed(file);
    if (text !== null) candidates.push({ file, ...parseCpuMax(text) });
  }
  for (const controller of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu', '.']) {
    for (const rel of new Set(['/', ...ancestry(own.v1)])) {
      const dir = path.join(root, controller, rel);
      const quota = readTrimmed(path.join(dir, 'cpu.cfs_quota_us'));
      if (quota === null) continue;
      const period = readTrimmed(path.join(dir, 'cpu.cfs_period_us'));
      candidates.push({ file: path.join(dir, 'cpu.cfs_quota_us'), ...parseCfs(quota, period) });
    }
  }
  let best = null;
  for (const c of candidates) {
    if (c.kind === 'limit' && (best === null || c.cpus < best.cpus)) best = { cpus: c.cpus, file: c.file };
  }
  return best;
}

/**
 * Resolve the start-up worker count.
 * @param {object} opts
 * @param {number|null} opts.webConcurrency validated WEB_CONCURRENCY or null
 * @param {string} [opts.cgroupRoot]
 * @param {string} [opts.procSelfCgroup]
 * @param {() => number} [opts.availableParallelism] injectable for tests
 * @returns {{count: number, source: string, detail: object}}
 */
function resolveWorkerCount({
  webConcurrency = null,
  cgroupRoot = DEFAULT_CGROUP_ROOT,
  procSelfCgroup = DEFAULT_PROC_SELF_CGROUP,
  availableParallelism = os.availableParallelism,
  max = MAX_WORKERS,
} = {}) {
  if (webConcurrency !== null && webConcurrency !== undefined) {
    return { count: webConcurrency, source: 'WEB_CONCURRENCY', detail: {} };
  }
  const limit = cgroupCpuLimit({ root: cgroupRoot, procSelfCgroup });
  if (limit) {
    const whole = Math.floor(limit.cpus + 1e-9);
    return {
      count: Math.min(max, Math.max(1, whole)),
      source: 'cgroup',
      detail: { cpus: limit.cpus, file: limit.file },
    };
  }
  const cores = Number(availableParallelism()) || 1;
  return {
    count: Math.min(max, Math.max(1, Math.floor(cores))),
    source: 'availableParallelism',
    detail: { cores },
  };
}

module.exports = {
  MAX_WORKERS,
  DEFAULT_CGROUP_ROOT,
  parseWorkerCount,
  parseCpuMax,
  parseCfs,
  cgroupCpuLimit,
  resolveWorkerCount,
};

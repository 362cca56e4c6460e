#!/usr/bin/env node
'use strict';

// Bench: does a second cluster worker buy throughput on CPU-bound work?
//
//   (cd sample-app && npm ci) && node bench/sample_app.js
//
// Starts sample-app/bin/www.js on 127.0.0.1 with WEB_CONCURRENCY=1, then 2,
// drives GET /work?ms=5 with autocannon (a pinned devDependency of
// sample-app) for a bounded time, and writes bench/results/sample-app.md.
// Knobs (env): BENCH_DURATION_S (10), BENCH_CONNECTIONS (20), BENCH_WORK_MS
// (5), BENCH_WARMUP_S (2), BENCH_OUT (bench/results/sample-app.md).
// Only loopback traffic; every run is bounded in time; the app processes it
// starts are stopped (SIGTERM, then SIGKILL) before it exits.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const APP = path.join(ROOT, 'sample-app');
const ENTRY = path.join(APP, 'bin', 'www.js');

function intEnv(name, def, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

const DURATION_S = intEnv('BENCH_DURATION_S', 10, 1, 120);
const WARMUP_S = intEnv('BENCH_WARMUP_S', 2, 0, 30);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 20, 1, 200);
const WORK_MS = intEnv('BENCH_WORK_MS', 5, 0, 1000);
const OUT = process.env.BENCH_OUT || path.join(ROOT, 'bench', 'results', 'sample-app.md');
const WORKER_COUNTS = [1, 2];

function loadAutocannon() {
  try {
    return require(path.join(APP, 'node_modules', 'autocannon'));
  } catch {
    throw new Error('autocannon is not installed: run `cd sample-app && npm ci` first');
  }
}

function get(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${p}`)));
    req.on('error', reject);
  });
}

function sample(text, name, route) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (route && !line.includes(`route="${route}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or null. */
function machineBusySeconds() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + (steal || 0)) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function ownCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function startApp(workers) {
  const child = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      WEB_CONCURRENCY: String(workers),
      WEBSCALE_ANNOTATIONS_FILE: path.join(os.tmpdir(), `sample-app-bench-no-annotations-${process.pid}`),
      SHUTDOWN_DELAY_MS: '0',
      SHUTDOWN_GRACE_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let port = null;
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const entry = JSON.parse(line);
        if (entry.msg === 'listening') port = entry.port;
      } catch {
        // not JSON: ignore
      }
    }
  });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`app exited with ${child.exitCode}`);
    if (port) {
      try {
        const res = await get(port, '/metrics');
        if (sample(res.body, 'webscale_workers') === workers) return { child, port };
      } catch {
        // not ready yet
      }
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`app with ${workers} workers did not become ready in 20 s`);
}

async function stopApp(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

function cannon(autocannon, url, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, pipelining: 1, timeout: 10 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

async function measure(autocannon, workers) {
  const { child, port } = await startApp(workers);
  try {
    const url = `http://127.0.0.1:${port}/work?ms=${WORK_MS}`;
    if (WARMUP_S > 0) await cannon(autocannon, url, WARMUP_S);
    const m0 = (await get(port, '/metrics')).body;
    const cpu0 = { machine: machineBusySeconds(), bench: ownCpuSeconds() };
    const r = await cannon(autocannon, url, DURATION_S);
    const cpu1 = { machine: machineBusySeconds(), bench: ownCpuSeconds() };
    const m1 = (await get(port, '/metrics')).body;
    const before = sample(m0, 'http_requests_total', '/work');
    const after = sample(m1, 'http_requests_total', '/work');
    // CPU in cores (CPU seconds per second of the run): the app (primary and
    // workers, from its own process_cpu_seconds_total), this load generator,
    // and everything else on the machine.
    const app = (sample(m1, 'process_cpu_seconds_total') - sample(m0, 'process_cpu_seconds_total')) / r.duration;
    const bench = (cpu1.bench - cpu0.bench) / r.duration;
    const machine = cpu0.machine === null ? null : (cpu1.machine - cpu0.machine) / r.duration;
    return {
      cpu: { app, bench, other: machine === null ? null : Math.max(0, machine - app - bench) },
      workers,
      // Completed requests over the measured wall time (autocannon's
      // requests.average is a mean of per-second samples and counts a
      // trailing partial second as a whole one).
      rps: r.requests.total / r.duration,
      p50: r.latency.p50,
      p99: r.latency.p99,
      total: r.requests.total,
      ok: r['2xx'],
      errors: r.errors + r.timeouts + r.non2xx,
      serverCounted: after - before,
    };
  } finally {
    await stopApp(child);
  }
}

function render(results, meta) {
  const [one, two] = results;
  const ratio = two.rps / one.rps;
  const cores = (v) => (v === null ? 'n/a' : v.toFixed(2));
  const msPerRequest = (r) => ((r.cpu.app / r.rps) * 1000).toFixed(1);
  const rows = results.map(
    (r) =>
      `| ${r.workers} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.total} | ${r.errors} | ${r.serverCounted} | ${cores(r.cpu.app)} | ${cores(r.cpu.bench)} | ${cores(r.cpu.other)} |`,
  );
  let verdict;
  if (ratio > 2.05) verdict = 'above the ideal 2x: background load hurt the 1-worker run more (see below)';
  else if (ratio >= 1.7) verdict = 'close to the ideal 2x';
  else if (ratio >= 1.3) verdict = 'a clear gain, short of the ideal 2x';
  else verdict = 'little gain: the second worker found no spare core';
  const ceiling = (1000 / Math.max(WORK_MS, 0.001)).toFixed(0);
  return `# Sample app: throughput of 1 vs 2 cluster workers

Measured by \`node bench/sample_app.js\` (not asserted by any test).

- date: ${meta.date}
- machine: ${meta.nproc} CPUs (\`os.availableParallelism()\`), ${meta.cpuModel}
- node: ${meta.node}; autocannon ${meta.autocannon}
- load: \`GET /work?ms=${WORK_MS}\` (a busy loop of ${WORK_MS} ms wall-clock time per request), ${CONNECTIONS} keep-alive connections, ${DURATION_S} s per run after a ${WARMUP_S} s warm-up, 127.0.0.1
- load average before the runs: ${meta.loadBefore}; after: ${meta.loadAfter}

| workers | requests/s | p50 latency (ms) | p99 latency (ms) | requests | errors + non-2xx | counted by /metrics | CPU: app (cores) | CPU: autocannon | CPU: rest of machine |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

**Ratio measured in this run: ${ratio.toFixed(2)}x** (requests/s with 2 workers / with 1): ${verdict}.

What it shows: one worker is one event loop, so CPU-bound requests queue
behind each other: a single worker cannot exceed ~${ceiling} requests/s
(1000 ms / ${WORK_MS} ms) however many cores the container has, and here it
reached ${one.rps.toFixed(0)}. A second worker runs a second event loop on the
second core; the ideal on ${meta.nproc} cores is 2x.

Where the ratio comes from (CPU columns: CPU seconds per second of each
measured run, i.e. cores): 1 worker used ${cores(one.cpu.app)} cores - one event loop
cannot use much more than one core (the rest is the primary and V8's helper
threads) - and 2 workers ${cores(two.cpu.app)}. Per request the app spent
${msPerRequest(one)} / ${msPerRequest(two)} ms of CPU: the busy loop plus HTTP parsing, Express, JSON and
metrics. (The busy loop runs for ${WORK_MS} ms of wall-clock time, so when other
processes preempt a worker it burns less CPU and this figure can drop below
${WORK_MS} ms.) Throughput follows the cores the app could get. The
load generator runs on the same ${meta.nproc} cores: autocannon used ${cores(one.cpu.bench)} / ${cores(two.cpu.bench)} cores
(it is light at these rates) and everything else on the machine
${cores(one.cpu.other)} / ${cores(two.cpu.other)} cores (1 / 2 workers). In the 2-worker run all of that
shares ${meta.nproc} cores with the workers, which pulls the ratio under 2x; background
load that happens to hit the 1-worker run harder pushes it over. This is one
run on one shared machine: run it again to see the spread. How the ratio
behaves with the load generator on another machine and a real 2-CPU pod
limit is not measured here.

Latency: with one worker all ${CONNECTIONS} connections queue for one event loop, so
p50 is mostly queueing and p99 shows connections that waited much longer
than their share; a second loop shortens the queue.

"counted by /metrics" is the app's own \`http_requests_total{route="/work"}\`
over the measured run, summed over the workers by the primary. It exceeds the
client's count by about one request per connection: the requests still in
flight when autocannon stopped counting, which the server then finished.
`;
}

async function main() {
  const autocannon = loadAutocannon();
  const meta = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model || 'unknown CPU',
    node: process.version,
    autocannon: require(path.join(APP, 'node_modules', 'autocannon', 'package.json')).version,
    loadBefore: os.loadavg().map((l) => l.toFixed(2)).join(' / '),
  };
  const results = [];
  for (const workers of WORKER_COUNTS) {
    process.stderr.write(`bench: ${workers} worker(s), ${DURATION_S} s ...\n`);
    const r = await measure(autocannon, workers);
    process.stderr.write(`bench: ${workers} worker(s): ${r.rps.toFixed(1)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms\n`);
    results.push(r);
  }
  meta.loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(' / ');
  const text = render(results, meta);
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, text);
  process.stdout.write(text);
  process.stderr.write(`bench: wrote ${path.relative(process.cwd(), OUT)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack || err}\n`);
  process.exit(1);
});

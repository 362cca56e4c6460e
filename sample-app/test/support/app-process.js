'use strict';

// Start the real entry (bin/www.js) as a child process on 127.0.0.1 with
// PORT=0 (the cluster hands every worker the same free port; we read it from
// the primary's "listening" log line). Each child runs in its own process
// group so that cleanup can kill exactly the processes this test started.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { request, sumSamples, waitFor, withTimeout } = require('./http');

const ENTRY = path.join(__dirname, '..', '..', 'bin', 'www.js');
const started = new Set();
const tempDirs = new Set();

/** A temp dir (named sample-app-test-<what>-XXXXXX) that cleanup() removes. */
function tempDir(what = 'tmp-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sample-app-test-${what}`));
  tempDirs.add(dir);
  return dir;
}

function baseEnv(extra) {
  const dir = tempDir('app-');
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME || dir,
    HOST: '127.0.0.1',
    PORT: '0',
    // Never read a real /etc/podinfo on a developer's machine.
    WEBSCALE_ANNOTATIONS_FILE: path.join(dir, 'annotations'),
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_GRACE_MS: '5000',
    ...extra,
  };
}

function run(env = {}) {
  const child = spawn(process.execPath, [ENTRY], { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.add(child);
  const lines = [];
  let stderr = '';
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ msg: line, unparsed: true });
      }
    }
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, lines, stderr: () => stderr, exited };
}

/** Start and wait until `workers` workers are online and answering. */
async function startApp(env = {}, { workers = 1, timeoutMs = 20000 } = {}) {
  const app = run(env);
  const listening = await waitFor(
    () => {
      if (app.child.exitCode !== null) throw new Error(`app exited early (${app.child.exitCode}): ${app.stderr()}`);
      return app.lines.find((l) => l.msg === 'listening');
    },
    { timeoutMs, what: 'the "listening" log line' },
  );
  app.port = listening.port;
  app.get = (p, opts) => request(app.port, p, opts);
  app.metrics = async () => (await app.get('/metrics')).text;
  app.workers = async () => sumSamples(await app.metrics(), 'webscale_workers');
  await waitFor(async () => (await app.workers()) === workers, { timeoutMs, what: `${workers} workers online` });
  return app;
}

/** For after(): kill every app this file started, remove its temp dirs. */
async function cleanup() {
  await killAll();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Kill (SIGKILL) the process group of every child still running. */
async function killAll() {
  const waits = [];
  for (const child of started) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    waits.push(new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve))));
  }
  await withTimeout(Promise.all(waits), 3000, 'killing test processes').catch(() => {});
}

module.exports = { ENTRY, run, startApp, killAll, cleanup, tempDir, request, sumSamples, waitFor, withTimeout };

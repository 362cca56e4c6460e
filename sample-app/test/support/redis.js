'use strict';

// A throwaway redis-server for tests: 127.0.0.1, a free port, no persistence,
// its own temp dir, killed by the caller's after hook. Missing binary is a
// test failure with a clear message, never a silent skip.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { tempDir, waitFor } = require('./app-process');

function findRedisServer() {
  const candidates = [
    process.env.REDIS_SERVER,
    ...String(process.env.PATH || '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((d) => path.join(d, 'redis-server')),
    '/usr/bin/redis-server',
    '/usr/sbin/redis-server',
  ].filter(Boolean);
  return candidates.find((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let data = '';
    sock.setTimeout(500, () => sock.destroy());
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      data += d;
      if (data.includes('\r\n')) {
        sock.destroy();
        resolve(data.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
    sock.on('close', () => resolve(data.startsWith('+PONG')));
  });
}

/** startRedis() -> { port, url, stop() } ; throws if redis-server is missing. */
async function startRedis() {
  const bin = findRedisServer();
  if (!bin) {
    throw new Error(
      'redis-server not found (looked in $REDIS_SERVER, $PATH, /usr/bin, /usr/sbin). ' +
        'Install the Debian package: apt-get install -y redis-server (the Makefile does this).',
    );
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const dir = tempDir('redis-');
    const child = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
          return ping(port);
        },
        { timeoutMs: 5000, what: 'redis-server to answer PING' },
      );
      return { port, url: `redis://127.0.0.1:${port}`, stop };
    } catch (err) {
      lastError = err;
      await stop();
    }
  }
  throw lastError;
}

module.exports = { startRedis, findRedisServer };

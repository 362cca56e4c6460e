#!/usr/bin/env node
'use strict';

// Entry point: the same file runs as the cluster primary (supervises workers,
// serves no HTTP) and, forked by it, as each worker (serves the app).

const cluster = require('node:cluster');
const { readConfig, ConfigError } = require('../lib/config');
const { createLogger } = require('../lib/log');

function main() {
  let config;
  try {
    config = readConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`webscale-sample-app: invalid configuration: ${err.message}\n`);
    process.exit(1);
  }
  const log = createLogger({ level: config.logLevel, base: { service: 'webscale-sample-app' } });

  if (cluster.isPrimary) {
    require('../lib/primary').runPrimary({ config, log });
  } else {
    require('../lib/worker')
      .runWorker({ config, log })
      .catch((err) => {
        log.error('worker failed to start', { err, worker: cluster.worker.id, pid: process.pid });
        process.exit(1);
      });
  }
}

main();

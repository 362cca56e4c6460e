'use strict';

// Work to scale on: /work burns CPU (the thing cluster workers parallelise),
// /io waits (the thing one event loop already overlaps). Inputs are checked
// so that a bad request gets a 400, never a worker stuck in a loop. /work is
// capped at 1 s of CPU; /io at 5 s of waiting (it costs no CPU, and drain
// tests need requests that outlive a SIGTERM).

const { setTimeout: sleep } = require('node:timers/promises');

const MAX_WORK_MS = 1000;
const MAX_IO_MS = 5000;

class BadRequest extends Error {
  constructor(message) {
    super(message);
    this.name = 'BadRequest';
    this.status = 400;
    this.expose = true;
  }
}

/**
 * parseMs(raw, fallback, max) -> milliseconds in [0, max].
 * Accepts a plain decimal number ("20", "2.5"); missing -> fallback.
 * Throws BadRequest for anything else ("abc", "-1", "1e3", "99999", ["1","2"]).
 */
function parseMs(raw, fallback, max) {
  if (raw === undefined) return fallback;
  const message = `ms must be a number from 0 to ${max}`;
  if (typeof raw !== 'string' || !/^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(raw)) throw new BadRequest(message);
  const ms = Number(raw);
  if (!(ms >= 0 && ms <= max)) throw new BadRequest(message);
  return ms;
}

/** Keep this thread busy for `ms` milliseconds (measured with hrtime). */
function burnCpu(ms) {
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let spins = 0;
  while (process.hrtime.bigint() < end) spins += 1;
  return { spins, tookMs: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Wait `ms` milliseconds without using CPU. */
async function waitIo(ms) {
  const start = process.hrtime.bigint();
  await sleep(ms);
  return { tookMs: Number(process.hrtime.bigint() - start) / 1e6 };
}

module.exports = { MAX_WORK_MS, MAX_IO_MS, BadRequest, parseMs, burnCpu, waitIo };

'use strict';

// Structured logs: one JSON object per line on stdout, so `kubectl logs` and
// any log shipper can parse them without a custom format.

const LEVELS = Object.freeze({ debug: 10, info: 20, warn: 30, error: 40 });

function serialise(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) {
      out[key] = { message: value.message, name: value.name, code: value.code, stack: value.stack };
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * createLogger({ level, stream, base }) -> { debug, info, warn, error, child }
 * `base` fields are added to every line (e.g. { role: 'primary', pid }).
 */
function createLogger({ level = 'info', stream = process.stdout, base = {} } = {}) {
  const min = LEVELS[level] ?? LEVELS.info;

  function write(lvl, msg, fields = {}) {
    if (LEVELS[lvl] < min) return;
    const line = { time: new Date().toISOString(), level: lvl, msg, ...base, ...serialise(fields) };
    stream.write(`${JSON.stringify(line)}\n`);
  }

  return {
    level,
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (extra) => createLogger({ level, stream, base: { ...base, ...extra } }),
  };
}

module.exports = { createLogger, LEVELS };

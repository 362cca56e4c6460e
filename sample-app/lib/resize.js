'use strict';

// Live resize: follow the pod annotation `webscale.dev/workers` through the
// downward-API annotations file, without a restart.
//
// The kubelet never edits that file in place: it writes a new timestamped
// directory and swaps the `..data` symlink, so inotify on the file path sees
// nothing useful. We therefore poll the *content* (default every 500 ms; the
// file is tiny) and additionally use fs.watch on the directory, where it
// works, only to react sooner. Content that is not a valid count (not an
// integer, 0, negative, above the maximum) is logged and ignored: the current
// count stays.

const EventEmitter = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const { parseAnnotations, WORKERS_ANNOTATION } = require('./annotations');
const { parseWorkerCount, MAX_WORKERS } = require('./workers');

/**
 * workersFromAnnotations(text | null) ->
 *   { status: 'absent' } | { status: 'ok', value } | { status: 'invalid', raw, error }
 */
function workersFromAnnotations(text, { key = WORKERS_ANNOTATION, max = MAX_WORKERS } = {}) {
  if (text === null || text === undefined) return { status: 'absent', reason: 'file missing' };
  const { values } = parseAnnotations(text);
  if (!values.has(key)) return { status: 'absent', reason: `no ${key} annotation` };
  const raw = values.get(key);
  const parsed = parseWorkerCount(raw, { name: `annotation ${key}`, max });
  if (!parsed.ok) return { status: 'invalid', raw, error: parsed.error };
  return { status: 'ok', value: parsed.value };
}

function readOrNull(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * planResize(active, desired) -> { fork: number, retire: id[] }
 * `active` = workers that count towards the desired number: [{ id, state:
 * 'starting' | 'online' }]. Scale-down retires workers still starting first
 * (they serve nobody yet), then the newest online ones (higher cluster id),
 * keeping the long-lived, warmed-up workers.
 */
function planResize(active, desired) {
  if (active.length < desired) return { fork: desired - active.length, retire: [] };
  const order = [...active].sort((a, b) => {
    const rank = (w) => (w.state === 'starting' ? 0 : 1);
    return rank(a) - rank(b) || b.id - a.id;
  });
  return { fork: 0, retire: order.slice(0, active.length - desired).map((w) => w.id) };
}

/**
 * Emits 'workers' (count) whenever the file's content changes to a valid
 * count. Emits nothing for absent or invalid content (it logs instead).
 */
class AnnotationWatcher extends EventEmitter {
  constructor({ file, key = WORKERS_ANNOTATION, pollMs = 500, max = MAX_WORKERS, log }) {
    super();
    this.file = file;
    this.key = key;
    this.pollMs = pollMs;
    this.max = max;
    this.log = log;
    this.lastContent = undefined;
    this.timer = null;
    this.kick = null;
    this.fsWatcher = null;
  }

  /** Read the file now (synchronously); used once at start-up. */
  current() {
    const content = readOrNull(this.file);
    this.lastContent = content;
    const result = workersFromAnnotations(content, { key: this.key, max: this.max });
    if (result.status === 'invalid') this.reportInvalid(result);
    return result;
  }

  start() {
    if (this.timer) return this;
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
    try {
      this.fsWatcher = fs.watch(path.dirname(this.file), { persistent: false }, () => this.soon());
      this.fsWatcher.on('error', () => this.closeFsWatcher());
    } catch {
      this.fsWatcher = null; // directory missing or watch unsupported: polling alone is enough
    }
    return this;
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.kick);
    this.timer = null;
    this.closeFsWatcher();
  }

  closeFsWatcher() {
    if (this.fsWatcher) this.fsWatcher.close();
    this.fsWatcher = null;
  }

  soon() {
    clearTimeout(this.kick);
    this.kick = setTimeout(() => this.check(), 20);
    this.kick.unref();
  }

  check() {
    if (!this.timer) return;
    const content = readOrNull(this.file);
    if (content === this.lastContent) return;
    this.lastContent = content;
    const result = workersFromAnnotations(content, { key: this.key, max: this.max });
    if (result.status === 'ok') {
      this.emit('workers', result.value);
    } else if (result.status === 'invalid') {
      this.reportInvalid(result);
    } else {
      this.log.info('worker annotation not present; keeping the current worker count', {
        file: this.file,
        reason: result.reason,
      });
    }
  }

  reportInvalid(result) {
    this.log.warn('ignoring invalid worker annotation; keeping the current worker count', {
      file: this.file,
      annotation: this.key,
      value: result.raw,
      reason: result.error,
    });
  }
}

module.exports = { AnnotationWatcher, workersFromAnnotations, planResize };

'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, describe, test } = require('node:test');
const { planResize, workersFromAnnotations, AnnotationWatcher } = require('../lib/resize');
const { startApp, cleanup, tempDir, request, waitFor } = require('./support/app-process');

after(cleanup);

/**
 * Write the annotations file the way the kubelet's atomic writer does: a new
 * timestamped directory, then an atomic rename of the `..data` symlink; the
 * visible file is a symlink through `..data`.
 */
let generation = 0;
function kubeletWrite(dir, text) {
  generation += 1;
  const stamp = `..gen_${process.pid}_${generation}`;
  fs.mkdirSync(path.join(dir, stamp));
  fs.writeFileSync(path.join(dir, stamp, 'annotations'), text);
  const old = fs.existsSync(path.join(dir, '..data')) ? fs.readlinkSync(path.join(dir, '..data')) : null;
  fs.symlinkSync(stamp, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  if (!fs.existsSync(path.join(dir, 'annotations'))) fs.symlinkSync('..data/annotations', path.join(dir, 'annotations'));
  if (old) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

const workersLine = (n) => `kubernetes.io/config.source="api"\nwebscale.dev/workers="${n}"\n`;

describe('planResize', () => {
  const w = (id, state = 'online') => ({ id, state });
  test('forks what is missing', () => assert.deepEqual(planResize([w(1)], 3), { fork: 2, retire: [] }));
  test('nothing to do', () => assert.deepEqual(planResize([w(1), w(2)], 2), { fork: 0, retire: [] }));
  test('retires starting workers first, then the newest', () => {
    assert.deepEqual(planResize([w(1), w(2), w(5, 'starting'), w(3)], 2), { fork: 0, retire: [5, 3] });
  });
});

describe('workersFromAnnotations', () => {
  const table = [
    [null, 'absent'],
    ['other="1"\n', 'absent'],
    [workersLine(3), 'ok', 3],
    [workersLine('abc'), 'invalid'],
    [workersLine(0), 'invalid'],
    [workersLine(-2), 'invalid'],
    [workersLine('1e9'), 'invalid'],
    [workersLine(65), 'invalid'],
    ['webscale.dev/workers=3\n', 'absent'], // unquoted: malformed line, skipped
  ];
  for (const [text, status, value] of table) {
    test(`${JSON.stringify(text)} -> ${status}`, () => {
      const got = workersFromAnnotations(text);
      assert.equal(got.status, status);
      if (value !== undefined) assert.equal(got.value, value);
    });
  }
});

test('the watcher follows a symlink-swapped file and ignores bad content', async () => {
  const dir = tempDir('podinfo-');
  kubeletWrite(dir, workersLine(2));
  const warnings = [];
  const log = { debug() {}, info() {}, warn: (msg, f) => warnings.push(f), error() {} };
  const watcher = new AnnotationWatcher({ file: path.join(dir, 'annotations'), pollMs: 50, log });
  assert.equal(watcher.current().value, 2);
  const seen = [];
  watcher.on('workers', (n) => seen.push(n));
  watcher.start();
  try {
    kubeletWrite(dir, workersLine(4));
    await waitFor(() => seen.includes(4), { timeoutMs: 3000, what: 'count 4' });
    kubeletWrite(dir, workersLine('zero'));
    await waitFor(() => warnings.length === 1, { timeoutMs: 3000, what: 'a warning' });
    assert.equal(warnings[0].value, 'zero');
    kubeletWrite(dir, workersLine(1));
    await waitFor(() => seen.includes(1), { timeoutMs: 3000, what: 'count 1' });
    assert.deepEqual(seen, [4, 1]);
  } finally {
    watcher.stop();
  }
});

test('live resize 2 -> 3 -> 1 under load: follows within 2 s, no request fails', async (t) => {
  const dir = tempDir('podinfo-');
  kubeletWrite(dir, workersLine(2));
  // WEB_CONCURRENCY=1 shows that the annotation wins at start-up too.
  const app = await startApp(
    { WEB_CONCURRENCY: '1', WEBSCALE_ANNOTATIONS_FILE: path.join(dir, 'annotations') },
    { workers: 2 },
  );

  // A bounded stream: at most 2000 requests and 15 s, 4 clients, one new
  // connection per request.
  const MAX_REQUESTS = 2000;
  const deadline = Date.now() + 15000;
  let stop = false;
  let sent = 0;
  const failures = [];
  const workersSeen = new Set();
  async function client(i) {
    while (!stop && sent < MAX_REQUESTS && Date.now() < deadline) {
      sent += 1;
      const p = sent % 2 === 0 ? '/io?ms=20' : '/work?ms=2';
      try {
        const res = await request(app.port, p, { timeoutMs: 5000 });
        if (res.status !== 200) failures.push(`${p}: HTTP ${res.status} ${res.text}`);
        else workersSeen.add(res.headers['x-worker-id']);
      } catch (err) {
        failures.push(`${p} (client ${i}): ${err.message}`);
      }
    }
  }
  const load = Promise.all([0, 1, 2, 3].map(client));

  async function resizeTo(n) {
    const started = Date.now();
    kubeletWrite(dir, workersLine(n));
    await waitFor(async () => (await app.workers()) === n, { timeoutMs: 5000, intervalMs: 50, what: `${n} workers` });
    const took = Date.now() - started;
    assert.ok(took < 2000, `took ${took} ms to reach ${n} workers`);
    return took;
  }

  try {
    await new Promise((r) => setTimeout(r, 500));
    const up = await resizeTo(3);
    await new Promise((r) => setTimeout(r, 700));
    // Bad content in between: ignored, the count stays.
    kubeletWrite(dir, workersLine(0));
    await waitFor(() => app.lines.some((l) => l.msg?.startsWith('ignoring invalid worker annotation')), { timeoutMs: 3000, what: 'the warning' });
    assert.equal(await app.workers(), 3);
    const down = await resizeTo(1);
    await new Promise((r) => setTimeout(r, 700));
    stop = true;
    await load;
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.ok(sent > 50, `only ${sent} requests were sent`);
    assert.ok(workersSeen.size >= 3, `requests reached ${workersSeen.size} workers`);
    const retired = app.lines.filter((l) => l.msg === 'retiring worker').length;
    assert.equal(retired, 2);
    t.diagnostic(`resize took ${up} ms up, ${down} ms down; ${sent} requests`);
  } finally {
    stop = true;
    await load;
  }
});

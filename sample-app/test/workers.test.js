'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, describe, test } = require('node:test');
const { parseWorkerCount, cgroupCpuLimit, resolveWorkerCount, MAX_WORKERS } = require('../lib/workers');
const { readConfig, ConfigError } = require('../lib/config');
const { run, cleanup, tempDir, withTimeout } = require('./support/app-process');

after(cleanup);

/** A fake cgroup tree: { 'cpu.max': '200000 100000', 'cpu/cpu.cfs_quota_us': '-1', ... } */
function fakeCgroup(files) {
  const root = tempDir('cgroup-');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  return root;
}

const NO_PROC = '/nonexistent/proc/self/cgroup';
const resolveWith = (files, extra = {}) =>
  resolveWorkerCount({
    cgroupRoot: fakeCgroup(files),
    procSelfCgroup: extra.proc ?? NO_PROC,
    availableParallelism: () => 7,
    ...extra.opts,
  });

describe('worker count from cgroups', () => {
  const table = [
    ['v2 two cores', { 'cpu.max': '200000 100000\n' }, 2, 'cgroup'],
    ['v2 half a core rounds up to the minimum of 1', { 'cpu.max': '50000 100000' }, 1, 'cgroup'],
    ['v2 1.99 cores rounds down', { 'cpu.max': '199999 100000' }, 1, 'cgroup'],
    ['v2 no quota falls back', { 'cpu.max': 'max 100000' }, 7, 'availableParallelism'],
    ['v1 1.5 cores rounds down', { 'cpu/cpu.cfs_quota_us': '150000', 'cpu/cpu.cfs_period_us': '100000' }, 1, 'cgroup'],
    ['v1 four cores (cpu,cpuacct mount)', { 'cpu,cpuacct/cpu.cfs_quota_us': '400000', 'cpu,cpuacct/cpu.cfs_period_us': '100000' }, 4, 'cgroup'],
    ['v1 quota -1 falls back', { 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }, 7, 'availableParallelism'],
    ['v2 garbage falls back', { 'cpu.max': 'banana' }, 7, 'availableParallelism'],
    ['v2 zero period falls back', { 'cpu.max': '100000 0' }, 7, 'availableParallelism'],
    ['v2 empty file falls back', { 'cpu.max': '' }, 7, 'availableParallelism'],
    ['v1 garbage quota falls back', { 'cpu/cpu.cfs_quota_us': '12abc', 'cpu/cpu.cfs_period_us': '100000' }, 7, 'availableParallelism'],
    ['v1 quota without period falls back', { 'cpu/cpu.cfs_quota_us': '150000' }, 7, 'availableParallelism'],
    ['binary junk falls back', { 'cpu.max': Buffer.from([0, 255, 10, 3]) }, 7, 'availableParallelism'],
    ['no cgroup files at all falls back', {}, 7, 'availableParallelism'],
    ['huge quota is capped', { 'cpu.max': '100000000 100000' }, MAX_WORKERS, 'cgroup'],
  ];
  for (const [name, files, expected, source] of table) {
    test(name, () => {
      const got = resolveWith(files);
      assert.equal(got.count, expected);
      assert.equal(got.source, source);
    });
  }

  test('a cgroup file that is a directory does not crash', () => {
    const root = tempDir('cgroup-');
    fs.mkdirSync(path.join(root, 'cpu.max'));
    assert.equal(cgroupCpuLimit({ root, procSelfCgroup: NO_PROC }), null);
  });

  test('without a cgroup namespace: our own cgroup path and its ancestors, smallest limit wins', () => {
    const root = fakeCgroup({
      'kubepods/pod1/cpu.max': '300000 100000',
      'kubepods/pod1/ctr/cpu.max': 'max 100000',
      'kubepods/cpu.max': '250000 100000',
    });
    const proc = path.join(tempDir(), 'cgroup');
    fs.writeFileSync(proc, '0::/kubepods/pod1/ctr\n');
    const limit = cgroupCpuLimit({ root, procSelfCgroup: proc });
    assert.equal(limit.cpus, 2.5);
    assert.equal(resolveWorkerCount({ cgroupRoot: root, procSelfCgroup: proc }).count, 2);
  });

  test('WEB_CONCURRENCY wins over the cgroup quota', () => {
    assert.deepEqual(resolveWith({ 'cpu.max': '200000 100000' }, { opts: { webConcurrency: 5 } }).count, 5);
  });

  test('the fallback is never below 1', () => {
    assert.equal(resolveWith({}, { opts: { availableParallelism: () => 0 } }).count, 1);
  });
});

describe('WEB_CONCURRENCY validation', () => {
  for (const good of ['1', '3', ' 4 ', String(MAX_WORKERS)]) {
    test(`accepts ${JSON.stringify(good)}`, () => {
      assert.equal(parseWorkerCount(good).ok, true);
      assert.equal(readConfig({ WEB_CONCURRENCY: good }).webConcurrency, Number(good));
    });
  }
  for (const bad of ['abc', '0', '-2', '1e9', '2.5', '+3', '0x10', '3 workers', String(MAX_WORKERS + 1), '99999999999999999999']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.equal(parseWorkerCount(bad).ok, false);
      assert.throws(() => readConfig({ WEB_CONCURRENCY: bad }), (err) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /WEB_CONCURRENCY/);
        assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
        return true;
      });
    });
  }
  test('empty means unset', () => {
    assert.equal(readConfig({ WEB_CONCURRENCY: '' }).webConcurrency, null);
  });
});

describe('the real entry refuses a bad WEB_CONCURRENCY', () => {
  for (const bad of ['abc', '0', '-2', '1e9']) {
    test(`WEB_CONCURRENCY=${bad} -> exit 1 with a message naming it`, async () => {
      const app = run({ WEB_CONCURRENCY: bad });
      const { code } = await withTimeout(app.exited, 10000, 'the entry');
      assert.equal(code, 1);
      assert.match(app.stderr(), /WEB_CONCURRENCY/);
      assert.ok(app.stderr().includes(`"${bad}"`), app.stderr());
      assert.equal(app.lines.filter((l) => l.msg === 'listening').length, 0);
    });
  }
});

describe('other settings are validated too', () => {
  for (const [name, value] of [
    ['PORT', '70000'],
    ['SHUTDOWN_GRACE_MS', 'soon'],
    ['WEBSCALE_CRASH_LIMIT', '-1'],
    ['LOG_LEVEL', 'loud'],
  ]) {
    test(`${name}=${value}`, () => {
      assert.throws(() => readConfig({ [name]: value }), new RegExp(name));
    });
  }
  test('SHUTDOWN_DELAY_MS must leave time inside SHUTDOWN_GRACE_MS', () => {
    assert.throws(() => readConfig({ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_GRACE_MS: '5000' }), /SHUTDOWN_DELAY_MS/);
  });
});

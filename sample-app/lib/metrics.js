'use strict';

// Per-worker HTTP metrics. Each worker counts into its own registry; the
// primary sums the workers (lib/aggregate.js) and serves the total on
// /metrics. Names and labels are a contract with the operator's PromQL:
//
//   http_requests_total{method,route,status}            counter
//   http_request_duration_seconds{method,route,status}  histogram
//   http_requests_in_flight                             gauge
//   + prom-client default metrics (process_cpu_seconds_total, ...)
//
// `route` is the Express route pattern ("/counter/:name"), never the raw
// URL, so a scan of random URLs cannot explode the series count; requests no
// route matched are "unmatched". /metrics, /healthz and /readyz are not
// counted: scrapes and kubelet probes are not user traffic and would skew
// the request rate the operator scales on.

const client = require('prom-client');

const NOT_COUNTED = new Set(['/metrics', '/healthz', '/readyz']);
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LABELS = ['method', 'route', 'status'];

/** Express route pattern of a finished request, or "unmatched". */
function routeLabel(req) {
  const route = req.route;
  if (!route || route.path === undefined) return 'unmatched';
  const pattern = Array.isArray(route.path) ? route.path.join('|') : String(route.path);
  return `${req.baseUrl || ''}${pattern}`;
}

function methodLabel(method) {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

function pathOf(url) {
  const q = url.indexOf('?');
  const p = q === -1 ? url : url.slice(0, q);
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * createHttpMetrics({ registry, defaultMetrics }) ->
 *   { registry, middleware, inFlight: () => number, snapshot: () => Promise<json> }
 */
function createHttpMetrics({ registry = new client.Registry(), defaultMetrics = true } = {}) {
  if (defaultMetrics) client.collectDefaultMetrics({ register: registry });

  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests completed, by method, Express route pattern and status code.',
    labelNames: LABELS,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, from first byte in to last byte out.',
    labelNames: LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const inFlightGauge = new client.Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests being served right now.',
    registers: [registry],
  });

  let inFlight = 0;

  function middleware(req, res, next) {
    if (NOT_COUNTED.has(pathOf(req.url))) return next();
    const start = process.hrtime.bigint();
    inFlight += 1;
    inFlightGauge.inc();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      inFlight -= 1;
      inFlightGauge.dec();
      // A response closed before it finished was cut off (client gone or
      // forced shutdown): count it as 499, nginx's "client closed request".
      const status = res.writableFinished ? String(res.statusCode) : '499';
      const labels = { method: methodLabel(req.method), route: routeLabel(req), status };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  }

  return {
    registry,
    middleware,
    inFlight: () => inFlight,
    snapshot: () => registry.getMetricsAsJSON(),
  };
}

module.exports = { createHttpMetrics, routeLabel, NOT_COUNTED, DURATION_BUCKETS };

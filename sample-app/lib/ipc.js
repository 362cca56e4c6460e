'use strict';

// Messages between the cluster primary and its workers (over the cluster IPC
// channel). All carry `type`; the prefix keeps them apart from Node's own
// and prom-client's messages.

const TYPES = Object.freeze({
  // primary -> worker
  drain: 'webscale:drain', // fail readiness, ask clients to reconnect elsewhere; keep serving
  stop: 'webscale:stop', // { graceMs }: stop accepting, finish in-flight, send `final`, exit
  snapshotReq: 'webscale:snapshot-req', // { id }: send your metrics now
  scrapeResult: 'webscale:scrape-result', // { id, ok, contentType, body, error }
  // worker -> primary
  snapshot: 'webscale:snapshot', // { id, metrics }
  final: 'webscale:final', // { metrics, cut }: last snapshot before exit; `cut` = requests cut off
  scrape: 'webscale:scrape', // { id }: a /metrics request arrived; please aggregate
});

/**
 * Worker side: ask the primary for the aggregated metrics text.
 * askPrimary(timeoutMs) -> Promise<{ contentType, body }>
 */
function createPrimaryClient(proc = process) {
  let seq = 0;
  const pending = new Map();

  proc.on('message', (message) => {
    if (!message || message.type !== TYPES.scrapeResult) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.ok) waiter.resolve({ contentType: message.contentType, body: message.body });
    else waiter.reject(new Error(message.error || 'metrics aggregation failed'));
  });

  return function scrape(timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      if (!proc.connected) {
        reject(new Error('not connected to the cluster primary'));
        return;
      }
      seq += 1;
      const id = seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`cluster primary did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      try {
        proc.send({ type: TYPES.scrape, id }, (err) => {
          if (!err || !pending.has(id)) return;
          pending.delete(id);
          clearTimeout(timer);
          reject(err);
        });
      } catch (err) {
        pending.delete(id);
        clearTimeout(timer);
        reject(err);
      }
    });
  };
}

module.exports = { TYPES, createPrimaryClient };

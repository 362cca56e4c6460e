'use strict';

// Stop an HTTP server without failing a request.
//
// http.Server#close() in Node >= 19 also closes every connection that is not
// in the middle of a request - including one the worker has just accepted
// whose request bytes have not been parsed yet. In cluster mode the primary
// hands connections to workers at any moment, so that race is real: the
// client gets ECONNRESET for a request it had already sent. So instead:
//
//   1. stop listening (net.Server#close: in a cluster worker this tells the
//      primary to hand new connections to the other workers);
//   2. responses not yet started get `Connection: close`, so the socket
//      ends right after them;
//   3. keep-alive sockets sitting idle *after* a response are ended now;
//      sockets that have not sent their first request yet are left alone:
//      the request is served (with `Connection: close`), then they end;
//   4. after graceMs whatever is left is destroyed and counted as cut.

const net = require('node:net');

function createDrainer(server) {
  const sockets = new Map(); // socket -> { active: Set<res>, served: number }
  let stopping = false;

  function endIfIdle(socket, info) {
    if (info.active.size === 0 && info.served > 0 && !socket.destroyed) socket.end();
  }

  server.on('connection', (socket) => {
    sockets.set(socket, { active: new Set(), served: 0 });
    socket.once('close', () => sockets.delete(socket));
  });

  server.on('request', (req, res) => {
    const socket = req.socket;
    const info = sockets.get(socket);
    if (!info) return;
    info.active.add(res);
    if (stopping && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      info.active.delete(res);
      info.served += 1;
      if (stopping) endIfIdle(socket, info);
    });
  });

  /**
   * stop(graceMs) -> Promise<{ cut: number }>; `cut` counts the requests
   * still running when the grace period ran out.
   */
  function stop(graceMs) {
    stopping = true;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (cut) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ cut });
      };
      const timer = setTimeout(() => {
        let cut = 0;
        for (const [socket, info] of sockets) {
          cut += info.active.size;
          socket.destroy();
        }
        finish(cut);
      }, Math.max(0, graceMs));

      if (server.listening) {
        net.Server.prototype.close.call(server, () => finish(0));
      } else if (sockets.size === 0) {
        finish(0);
      }
      for (const [socket, info] of sockets) {
        for (const res of info.active) if (!res.headersSent) res.setHeader('Connection', 'close');
        endIfIdle(socket, info);
      }
      if (!server.listening && sockets.size > 0) {
        // Not listening but connections remain: wait for them to close.
        const check = setInterval(() => {
          if (sockets.size === 0) {
            clearInterval(check);
            finish(0);
          }
        }, 25);
        check.unref();
      }
    });
  }

  return {
    stop,
    get stopping() {
      return stopping;
    },
    get connections() {
      return sockets.size;
    },
  };
}

module.exports = { createDrainer };

'use strict';

// Crash-loop guard for worker replacement. A worker that dies unexpectedly is
// replaced at once; if more than `limit` workers crash within `windowMs`, the
// primary stops replacing them until the oldest crash leaves the window (a
// bug that kills every worker on start-up would otherwise fork forever and
// hide itself). Pure: time is passed in, so tests need no clock.

class CrashGuard {
  constructor({ limit = 5, windowMs = 60000 } = {}) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.crashes = [];
  }

  prune(now) {
    const since = now - this.windowMs;
    while (this.crashes.length > 0 && this.crashes[0] <= since) this.crashes.shift();
  }

  /** Record one crash; returns the state after it. */
  record(now) {
    this.crashes.push(now);
    return this.state(now);
  }

  /** { recent, tripped, resumeAt } - resumeAt is when replacing may resume. */
  state(now) {
    this.prune(now);
    const recent = this.crashes.length;
    const tripped = recent > this.limit;
    // Replacing resumes once enough old crashes have aged out that we are
    // back at the limit: i.e. when crash number (recent - limit) expires.
    const resumeAt = tripped ? this.crashes[recent - this.limit - 1] + this.windowMs : now;
    return { recent, tripped, resumeAt };
  }
}

module.exports = { CrashGuard };

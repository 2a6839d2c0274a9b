// Waiting for something the emulator or an SDK does, always with a deadline:
// a test waits for the event itself, never for a fixed time, and never forever.
'use strict';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Calls condition (it may be async) until it returns something truthy, which it resolves to;
// rejects naming `what` once timeout ms have passed. Errors from condition count as "not yet".
async function waitUntil(what, condition, { timeout = 10000, interval = 50 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await pause(interval);
  }
}

// Settles as promise does, or rejects naming `what` once timeout ms have passed.
function within(what, promise, timeout = 10000) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

module.exports = { waitUntil, within };

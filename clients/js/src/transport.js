'use strict';
// Calls to the server: at most 10 at once (the mini-program's limit), each with a deadline;
// transient failures (no connection, timeouts, 429, 5xx) retried with exponential backoff,
// jitter and the server's Retry-After, a bounded number of times. A server that answers busy
// (503 `server-busy`: its queue of syncs is full) is waited out for up to `busyForMs` without
// those answers counting as tries.

const MAX_CONCURRENT = 10;

class HttpError extends Error {
  /** An answer that is not a success: its status, the body's `code`, and its `message`. */
  constructor(status, body, headers) {
    const code = body && typeof body === 'object' ? body.code : undefined;
    const message = body && typeof body === 'object' ? body.message : String(body || '');
    super(`${status}${code ? ` ${code}` : ''}: ${message}`);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers || {};
  }
}

class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** The server's queue is full: come back after Retry-After. Not a failure. */
function busy(err) {
  return err instanceof HttpError && err.status === 503 && err.code === 'server-busy'
    && err.headers['retry-after'] !== undefined;
}

function transient(err) {
  return err instanceof NetworkError
    || (err instanceof HttpError && (err.status === 429 || err.status === 408 || err.status >= 500));
}

class Transport {
  /**
   * `platform`: `request`, `sleep`, `randomBytes`; `origin`: the server, e.g.
   * `https://anjian.example.cn`; `retry`: {attempts, baseMs, maxMs, busyForMs}.
   */
  constructor(platform, origin, retry = {}) {
    this.platform = platform;
    this.origin = origin.replace(/\/$/, '');
    this.retry = { attempts: 5, baseMs: 500, maxMs: 30000, busyForMs: 300000, ...retry };
    this.active = 0;
    this.waiting = [];
    this.token = null;
  }

  async slot() {
    if (this.active < MAX_CONCURRENT) {
      this.active += 1;
      return;
    }
    await new Promise((resolve) => this.waiting.push(resolve));
  }

  release() {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }

  /**
   * One request, no retry: the answer, or an HttpError / NetworkError. With `file`
   * ({filePath, name, formData}), a multipart POST of a file through the platform's
   * `uploadFile` (wx.uploadFile).
   */
  async once(method, path, { headers = {}, body, json, file } = {}) {
    const sent = { ...headers };
    if (this.token) sent.authorization = `Bearer ${this.token}`;
    let payload = body;
    if (json !== undefined) {
      sent['content-type'] = 'application/json';
      payload = JSON.stringify(json);
    }
    await this.slot();
    let answer;
    try {
      answer = file
        ? await this.platform.uploadFile({ url: this.origin + path, headers: sent, ...file })
        : await this.platform.request({ method, url: this.origin + path, headers: sent, body: payload });
    } catch (err) {
      throw new NetworkError(err && err.message ? err.message : String(err));
    } finally {
      this.release();
    }
    if (answer.status >= 200 && answer.status < 300) return answer;
    let parsed = answer.text;
    try {
      parsed = JSON.parse(answer.text);
    } catch (_) {
      // Not JSON: kept as text.
    }
    throw new HttpError(answer.status, parsed, answer.headers);
  }

  /** A request retried while its failure is transient. */
  async call(method, path, options) {
    let attempt = 0;
    let busyMs = 0;
    for (;;) {
      try {
        return await this.once(method, path, options);
      } catch (err) {
        if (busy(err) && busyMs < this.retry.busyForMs) {
          // Its wait, then up to as long again at random, so that devices turned away together
          // come back apart. Bounded: each wait adds to `busyMs`.
          const wait = Math.max(await this.backoff(1, err), 1);
          const [r] = await this.platform.randomBytes(1);
          const ms = wait + Math.floor((wait * r) / 256);
          busyMs += ms;
          await this.platform.sleep(ms);
          continue;
        }
        attempt += 1;
        if (!transient(err) || attempt >= this.retry.attempts) throw err;
        await this.platform.sleep(await this.backoff(attempt, err));
      }
    }
  }

  /** How long to wait before attempt `attempt + 1`: Retry-After when given, else exponential with full jitter. */
  async backoff(attempt, err) {
    const header = err instanceof HttpError ? err.headers['retry-after'] : undefined;
    if (header !== undefined) {
      // Seconds, or an HTTP date.
      const seconds = /^\d+$/.test(String(header).trim())
        ? Number(header)
        : (Date.parse(header) - this.platform.now()) / 1000;
      if (Number.isFinite(seconds)) return Math.min(Math.max(0, seconds) * 1000, this.retry.maxMs);
    }
    const ceiling = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (attempt - 1));
    const [r] = await this.platform.randomBytes(1);
    return Math.floor((ceiling * (r + 1)) / 256);
  }

  async json(method, path, options) {
    const answer = await this.call(method, path, options);
    return answer.text ? JSON.parse(answer.text) : null;
  }
}

module.exports = { Transport, HttpError, NetworkError, transient, MAX_CONCURRENT };

'use strict';
// The transport, on a scripted platform: at most 10 calls in flight, Retry-After obeyed,
// backoff with jitter and a bounded number of attempts, permanent failures not retried.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Transport, HttpError, NetworkError, MAX_CONCURRENT } = require('../src/transport');

function scripted(answers) {
  const slept = [];
  const seen = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const platform = {
    async request(req) {
      seen.push(req);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
      const next = answers.length > 1 ? answers.shift() : answers[0];
      if (next instanceof Error) throw next;
      return next;
    },
    async sleep(ms) {
      slept.push(ms);
    },
    async randomBytes(n) {
      return new Uint8Array(n).fill(255);
    },
  };
  return { platform, slept, seen, max: () => maxInFlight };
}

const ok = { status: 200, headers: {}, text: '{"fine":true}' };

test('at most 10 calls are in flight at once', async () => {
  const s = scripted([ok]);
  const t = new Transport(s.platform, 'http://127.0.0.1:9');
  await Promise.all(Array.from({ length: 35 }, () => t.json('GET', '/v1/me')));
  assert.equal(MAX_CONCURRENT, 10);
  assert.equal(s.max(), 10);
  assert.equal(s.seen.length, 35);
});

test('a 429 or 503 is retried after its Retry-After', async () => {
  const busy = { status: 503, headers: { 'retry-after': '7' }, text: '{"code":"overloaded","message":"busy"}' };
  const s = scripted([busy, ok]);
  const t = new Transport(s.platform, 'http://127.0.0.1:9', { attempts: 3, maxMs: 60000 });
  assert.deepEqual(await t.json('POST', '/v1/sync/push', { json: {} }), { fine: true });
  assert.deepEqual(s.slept, [7000]);
});

test('a busy server is waited out without its answers counting as tries, for so long', async () => {
  const busy = { status: 503, headers: { 'retry-after': '1' }, text: '{"code":"server-busy","message":"busy"}' };
  const s = scripted([busy, busy, busy, busy, busy, busy, ok]);
  const t = new Transport(s.platform, 'http://127.0.0.1:9', { attempts: 2 });
  assert.deepEqual(await t.json('POST', '/v1/sync/push', { json: {} }), { fine: true });
  // Six busy answers with two tries: each waited 1 s and then up to 1 s more at random.
  assert.deepEqual(s.slept, Array(6).fill(1996));

  // Past `busyForMs`, busy answers count as tries again, and the call gives up.
  const still = scripted([busy]);
  const brief = new Transport(still.platform, 'http://127.0.0.1:9', { attempts: 2, busyForMs: 3000 });
  await assert.rejects(brief.json('POST', '/v1/sync/push', { json: {} }), HttpError);
  assert.equal(still.seen.length, 4);
});

test('transient failures back off exponentially, with jitter, a bounded number of times', async () => {
  const s = scripted([new Error('no network')]);
  const t = new Transport(s.platform, 'http://127.0.0.1:9', { attempts: 4, baseMs: 100, maxMs: 250 });
  await assert.rejects(t.json('GET', '/v1/me'), NetworkError);
  assert.equal(s.seen.length, 4);
  // Full jitter at its top (random bytes of 255): the ceiling, capped by maxMs.
  assert.deepEqual(s.slept, [100, 200, 250]);
});

test('a refusal is not retried, and says its code', async () => {
  const s = scripted([{ status: 403, headers: {}, text: '{"code":"device-revoked","message":"revoked"}' }]);
  const t = new Transport(s.platform, 'http://127.0.0.1:9');
  await assert.rejects(t.json('POST', '/v1/sync/push', { json: {} }), (err) => err instanceof HttpError && err.code === 'device-revoked' && err.status === 403);
  assert.equal(s.seen.length, 1);
  assert.deepEqual(s.slept, []);
});

test('the token goes with every call', async () => {
  const s = scripted([ok]);
  const t = new Transport(s.platform, 'http://127.0.0.1:9/');
  t.token = 'anj_x';
  await t.json('GET', '/v1/me');
  assert.equal(s.seen[0].headers.authorization, 'Bearer anj_x');
  assert.equal(s.seen[0].url, 'http://127.0.0.1:9/v1/me');
});

test('a Retry-After given as an HTTP date is obeyed', async () => {
  const now = Date.parse('2026-12-01T08:00:00Z');
  const busy = { status: 429, headers: { 'retry-after': 'Tue, 01 Dec 2026 08:00:05 GMT' }, text: '{"code":"too-many","message":"wait"}' };
  const s = scripted([busy, ok]);
  s.platform.now = () => now;
  const t = new Transport(s.platform, 'http://127.0.0.1:9', { attempts: 2, maxMs: 60000 });
  await t.json('GET', '/v1/me');
  assert.deepEqual(s.slept, [5000]);
});

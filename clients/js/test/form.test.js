'use strict';
// Form checks: nothing the server would refuse to read is ever logged.

const test = require('node:test');
const assert = require('node:assert/strict');
const sdk = require('../src');

const good = () => ({
  v: 1,
  device_id: '0192f3a0-0000-7000-8000-000000000001',
  seq: 1,
  id: '0192f3a0-0000-7000-8000-0000000000e1',
  prev_hash: sdk.GENESIS_HASH,
  kind: 'hazard.report',
  entity_id: '0192f3a0-0000-7000-8000-0000000000a1',
  payload: { description: '配电箱未接地' },
  blob_refs: [],
  template_ref: null,
  base_rev: null,
  captured: { wall_ms: 1764547200000, tz_offset_min: 480 },
});

const refused = (change, why) => {
  const body = good();
  change(body);
  assert.throws(() => sdk.checkForm(body), (err) => err.code === 'malformed-event', why);
};

test('a well-formed body passes', () => {
  assert.ok(sdk.checkForm(good()).length > 100);
});

test('ids and hashes have one form: lower case', () => {
  refused((b) => { b.id = b.id.toUpperCase(); }, 'an upper-case id');
  refused((b) => { b.entity_id = 'not-a-uuid'; }, 'not a UUID');
  refused((b) => { b.prev_hash = 'A'.repeat(64); }, 'an upper-case hash');
  refused((b) => { b.blob_refs = ['F'.repeat(64)]; }, 'an upper-case photo hash');
});

test('sizes and ranges are the server\'s', () => {
  refused((b) => { b.seq = 0; }, 'seq 0');
  refused((b) => { b.seq = 2 ** 53; }, 'seq past 2^53 - 1');
  refused((b) => { b.v = 2; }, 'another version');
  refused((b) => { b.kind = ''; }, 'no kind');
  refused((b) => { b.kind = 'k'.repeat(65); }, 'a long kind');
  refused((b) => { b.blob_refs = Array(33).fill('a'.repeat(64)); }, '33 photos');
  refused((b) => { b.payload = { text: 'x'.repeat(64 * 1024) }; }, 'over 64 KiB');
  refused((b) => { b.payload = { lat: 26.5 }; }, 'a fraction');
  refused((b) => { b.payload = { n: 2 ** 53 }; }, 'an unsafe integer');
  refused((b) => { b.payload = { 名称: 'x' }; }, 'a key outside ASCII');
  refused((b) => { b.captured = { wall_ms: 1.5, tz_offset_min: 480 }; }, 'a fractional time');
});

test('a cut emoji is refused, a whole one is kept', () => {
  const emoji = '隐患😀';
  refused((b) => { b.payload = { description: emoji.slice(0, -1) }; }, 'a lone surrogate');
  const body = good();
  body.payload = { description: emoji };
  assert.ok(sdk.checkForm(body));
});

test('only the signed members are signed: a stray member changes nothing', () => {
  const secret = new Uint8Array(32).fill(7);
  const a = sdk.sign(good(), secret);
  const b = sdk.sign({ ...good(), stray: 'x' }, secret);
  assert.equal(a.hash, b.hash);
  assert.equal(b.stray, undefined);
});

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const sdk = require('../src');

test('a UUIDv7 is the RFC 9562 example for its time and random bits', () => {
  const random = Uint8Array.from([0x0c, 0xc3, 0x18, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f]);
  assert.equal(sdk.uuidv7(0x017f22e279b0, random), '017f22e2-79b0-7cc3-98c4-dc0c0c07398f');
});

test('UUIDv7s sort by time and have one form', () => {
  const zeros = new Uint8Array(10);
  const a = sdk.uuidv7(1764547200000, zeros);
  const b = sdk.uuidv7(1764547200001, zeros);
  assert.ok(a < b);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.throws(() => sdk.uuidv7(-1, zeros));
  assert.throws(() => sdk.uuidv7(1, new Uint8Array(9)));
});

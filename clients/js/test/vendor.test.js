'use strict';
// The SDK as the mini-program carries it (miniprogram/sdk/, written by scripts/vendor.js): up to
// date, and working without TextEncoder/TextDecoder (absent from some WeChat runtimes).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { build, existing, OUT } = require('../scripts/vendor');

test('miniprogram/sdk is what scripts/vendor.js writes', () => {
  const wanted = build();
  const have = existing(OUT);
  assert.deepEqual([...have.keys()].sort(), [...wanted.keys()].sort());
  for (const [file, text] of wanted) assert.equal(have.get(file), text, file);
});

test('the vendored SDK signs the vectors without TextEncoder or TextDecoder', () => {
  const saved = { TextEncoder: globalThis.TextEncoder, TextDecoder: globalThis.TextDecoder };
  delete globalThis.TextEncoder;
  delete globalThis.TextDecoder;
  try {
    const sdk = require(path.join(OUT, 'index.js'));
    const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../openapi/vectors.json'), 'utf8'));
    for (const chain of vectors.chains) {
      const secret = sdk.fromHex(vectors.keys[chain.key].secret, 32);
      for (const e of chain.events) {
        const signed = sdk.sign(e.body, secret);
        assert.equal(signed.sig, e.sig, e.name);
        assert.ok(sdk.verify(signed, vectors.keys[chain.key].public), e.name);
      }
    }
    const digest = new sdk.BucketDigest();
    digest.add('a', 1);
    assert.equal(digest.count, 1);
    assert.equal(sdk.gridId('shacheng'), vectors.derived_ids[0].id);
    // The stand-in encoder is the standard one, lone surrogates replaced.
    const standard = new saved.TextEncoder();
    for (const s of ['', '隐患😀👨‍👩‍👧', 'a\ud800b', '\udfff', 'x\ud83d']) {
      assert.deepEqual(new globalThis.TextEncoder().encode(s), standard.encode(s), JSON.stringify(s));
    }
  } finally {
    Object.assign(globalThis, saved);
  }
});

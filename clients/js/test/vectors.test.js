'use strict';
// The shared vectors (openapi/vectors.json), written by the Rust reference implementation:
// this SDK must reproduce every byte of them.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const sdk = require('../src');

const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../openapi/vectors.json'), 'utf8'));

test('the limits are the protocol\'s', () => {
  const l = vectors.limits;
  assert.equal(sdk.MAX_EVENT_BYTES, l.max_event_bytes);
  assert.equal(sdk.MAX_BLOB_REFS, l.max_blob_refs);
  assert.equal(sdk.MAX_SEQ, l.max_seq);
  assert.equal(sdk.MAX_SAFE_INTEGER, l.max_safe_integer);
  assert.equal(sdk.MAX_DEPTH, l.max_depth);
  assert.equal(sdk.GENESIS_HASH, l.genesis_hash);
});

test('every chained event encodes, hashes and signs to the same bytes', () => {
  let events = 0;
  for (const chain of vectors.chains) {
    const key = vectors.keys[chain.key];
    const secret = sdk.fromHex(key.secret, 32);
    assert.equal(sdk.publicKeyOf(secret), key.public);
    let prev = sdk.GENESIS_HASH;
    for (const e of chain.events) {
      assert.equal(e.body.prev_hash, prev, `${e.name}: chained`);
      assert.equal(sdk.canonicalText(e.body), e.canonical, `${e.name}: canonical text`);
      assert.equal(sdk.hashBody(e.body), e.hash, `${e.name}: hash`);
      const signed = sdk.sign(e.body, secret);
      assert.equal(signed.sig, e.sig, `${e.name}: signature`);
      assert.ok(sdk.verify(signed, key.public), `${e.name}: verifies`);
      const tampered = { ...signed, payload: { ...signed.payload, extra: 1 } };
      assert.ok(!sdk.verify(tampered, key.public), `${e.name}: a change is caught`);
      prev = e.hash;
      events += 1;
    }
  }
  assert.ok(events >= 20, `${events} events`);
});

test('payloads outside the canonical subset are refused, with the reason', () => {
  let checked = 0;
  for (const u of vectors.unencodable) {
    const value = JSON.parse(u.payload_json);
    if (u.text_only) continue;
    assert.throws(() => sdk.canonicalize(value), (err) => err instanceof sdk.CanonicalError && err.kind === u.error, u.name);
    checked += 1;
  }
  assert.ok(checked >= 4);
});

test('strings that JSON cannot carry are refused before anything is logged', () => {
  const body = vectors.chains[1].events[0].body;
  for (const r of vectors.refused_strings) {
    const s = String.fromCharCode(...r.utf16);
    assert.throws(() => sdk.canonicalize({ title: s }), (err) => err.kind === 'string', r.name);
    assert.throws(() => sdk.checkForm({ ...body, payload: { title: s } }), (err) => err.code === 'malformed-event', r.name);
  }
});

test('derived ids are the same on every device', () => {
  for (const d of vectors.derived_ids) {
    assert.equal(sdk.derivedId(d.parts), d.id, d.what);
  }
  const [grid, team, meeting, template, issue] = vectors.derived_ids;
  assert.equal(sdk.gridId(grid.parts[1]), grid.id);
  assert.equal(sdk.teamId(...team.parts.slice(1)), team.id);
  assert.equal(sdk.meetingId(...meeting.parts.slice(1)), meeting.id);
  assert.equal(sdk.templateId(template.parts[1], Number(template.parts[2])), template.id);
  assert.equal(sdk.issueId(issue.parts[1], Number(issue.parts[2])), issue.id);
});

test('a bucket digest follows each change', () => {
  const digest = new sdk.BucketDigest();
  for (const step of vectors.bucket_digest) {
    if (step.op === 'add') digest.add(step.entity_id, step.rev);
    else digest.remove(step.entity_id, step.rev);
    assert.equal(digest.count, step.count);
    assert.equal(digest.hex(), step.digest);
  }
});

test('every kind is about the entity type the Rust side says', () => {
  const { typeOfKind } = require('../src/device');
  assert.ok(Object.keys(vectors.entity_types).length >= 20);
  for (const [kind, type] of Object.entries(vectors.entity_types)) assert.equal(typeOfKind(kind), type, kind);
});

test('the reason sentences are the Rust table\'s', () => {
  assert.deepEqual(sdk.REASONS, vectors.reasons);
  assert.equal(sdk.reasonWords('a-code-no-table-knows'), vectors.reason_fallback);
});

'use strict';
// Events (openapi/PROTOCOL.md §2): the body's form, its canonical bytes, hash and signature.
// `checkForm` refuses, before anything is logged, every event the server would refuse to read
// (`malformed-event`): one such event in the log would stop every later one from being sent.

require('./polyfill');
const { ed25519 } = require('@noble/curves/ed25519');
const { sha256 } = require('@noble/hashes/sha2');
const { canonicalize, CanonicalError, MAX_SAFE_INTEGER } = require('./canonical');
const { utf8, toHex, fromHex } = require('./bytes');

const EVENT_VERSION = 1;
const GENESIS_HASH = '0'.repeat(64);
const MAX_EVENT_BYTES = 64 * 1024;
const MAX_BLOB_REFS = 32;
const MAX_SEQ = MAX_SAFE_INTEGER;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

class FormError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FormError';
    this.code = 'malformed-event';
  }
}

/** The members that are hashed and signed, and only those. */
function signedPart(body) {
  return {
    v: body.v,
    device_id: body.device_id,
    seq: body.seq,
    id: body.id,
    prev_hash: body.prev_hash,
    kind: body.kind,
    entity_id: body.entity_id,
    payload: body.payload,
    blob_refs: body.blob_refs,
    template_ref: body.template_ref === undefined ? null : body.template_ref,
    base_rev: body.base_rev === undefined ? null : body.base_rev,
    captured: body.captured && { wall_ms: body.captured.wall_ms, tz_offset_min: body.captured.tz_offset_min },
  };
}

/**
 * Checks a body's form as the server does before it reads an event; returns its canonical
 * bytes, or throws a FormError saying what is wrong.
 */
function checkForm(body) {
  const fail = (message) => {
    throw new FormError(message);
  };
  if (body.v !== EVENT_VERSION) fail('`v` must be 1');
  if (!Number.isSafeInteger(body.seq) || body.seq < 1 || body.seq > MAX_SEQ) {
    fail('`seq` starts at 1 and is at most 2^53 - 1');
  }
  for (const field of ['id', 'entity_id', 'device_id']) {
    if (typeof body[field] !== 'string' || !UUID.test(body[field])) {
      fail(`\`${field}\` must be a UUID (lower-case, with dashes)`);
    }
  }
  if (typeof body.prev_hash !== 'string' || !SHA256_HEX.test(body.prev_hash)) {
    fail('`prev_hash` is 64 lower-case hex characters');
  }
  if (typeof body.kind !== 'string' || body.kind.length === 0 || utf8Length(body.kind) > 64) {
    fail('`kind` must be 1 to 64 characters');
  }
  const refs = body.blob_refs;
  if (!Array.isArray(refs) || refs.length > MAX_BLOB_REFS || !refs.every((r) => typeof r === 'string' && SHA256_HEX.test(r))) {
    fail('`blob_refs` holds at most 32 sha256 hashes as lower-case hex');
  }
  if (body.template_ref != null && typeof body.template_ref !== 'string') fail('`template_ref` is text or null');
  if (body.base_rev != null && (!Number.isSafeInteger(body.base_rev) || body.base_rev < 0)) {
    fail('`base_rev` is a revision (an integer from 0) or null');
  }
  const c = body.captured;
  if (!c || !Number.isSafeInteger(c.wall_ms) || !Number.isSafeInteger(c.tz_offset_min)
    || c.tz_offset_min < -2147483648 || c.tz_offset_min > 2147483647) {
    fail('`captured` is {wall_ms, tz_offset_min}, both integers');
  }
  if (body.payload === undefined) fail('`payload` is missing');
  let text;
  try {
    text = canonicalize(signedPart(body));
  } catch (err) {
    if (err instanceof CanonicalError) fail(`the event has no canonical form: ${err.message}`);
    throw err;
  }
  const bytes = utf8(text);
  if (bytes.length > MAX_EVENT_BYTES) fail(`the event is ${bytes.length} bytes; at most ${MAX_EVENT_BYTES} are accepted`);
  return bytes;
}

function utf8Length(s) {
  try {
    return utf8(s).length;
  } catch (_) {
    return Infinity;
  }
}

/** The canonical text of a body (for tests and tools; hashing uses its UTF-8 bytes). */
function canonicalText(body) {
  return canonicalize(signedPart(body));
}

/** The hash of a body, hex. */
function hashBody(body) {
  return toHex(sha256(checkForm(body)));
}

/** The public key (hex) of a 32-byte secret. */
function publicKeyOf(secret) {
  return toHex(ed25519.getPublicKey(secret));
}

/** Checks, hashes and signs a body with the device's 32-byte secret: the signed event. */
function sign(body, secret) {
  const hash = sha256(checkForm(body));
  const sig = ed25519.sign(hash, secret);
  return { ...signedPart(body), hash: toHex(hash), sig: toHex(sig) };
}

/**
 * Whether a signed event's hash is its content's and its signature verifies with the public
 * key (hex), strictly (RFC 8032; no small-order points), as the server checks.
 */
function verify(event, publicHex) {
  try {
    const hash = sha256(checkForm(event));
    if (toHex(hash) !== event.hash) return false;
    return ed25519.verify(fromHex(event.sig, 64), hash, fromHex(publicHex, 32), { zip215: false });
  } catch (_) {
    return false;
  }
}

module.exports = {
  EVENT_VERSION,
  GENESIS_HASH,
  MAX_EVENT_BYTES,
  MAX_BLOB_REFS,
  MAX_SEQ,
  FormError,
  checkForm,
  canonicalText,
  hashBody,
  publicKeyOf,
  sign,
  verify,
};

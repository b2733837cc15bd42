'use strict';
// Ids (openapi/PROTOCOL.md): UUIDv7 for what a device creates, and the ids derived from what a
// record is (a grid's code, a meeting's team, day, shift and slot), the same on every device.

require('./polyfill');
const { sha256 } = require('@noble/hashes/sha2');
const { utf8, toHex } = require('./bytes');

function format(bytes) {
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The UUID (version 8) derived from `parts`: the first 16 bytes of sha256 of them joined by `\n`. */
function derivedId(parts) {
  const bytes = sha256(utf8(parts.join('\n'))).slice(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return format(bytes);
}

/** A UUIDv7 for `ms` (milliseconds since the epoch) and 10 random bytes. */
function uuidv7(ms, random) {
  if (!Number.isSafeInteger(ms) || ms < 0 || random.length < 10) throw new TypeError('uuidv7 needs a time and 10 random bytes');
  const bytes = new Uint8Array(16);
  let t = ms;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256;
    t = Math.floor(t / 256);
  }
  bytes.set(random.slice(0, 10), 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return format(bytes);
}

const gridId = (code) => derivedId(['grid', code]);
const teamId = (enterprise, code) => derivedId(['team', enterprise, code]);
const meetingId = (enterprise, team, date, shift, slot) => derivedId(['meeting', enterprise, team, date, shift, slot]);
const templateId = (code, version) => derivedId(['template', code, String(version)]);
const issueId = (device, seq) => derivedId(['issue', device, String(seq)]);

module.exports = { derivedId, uuidv7, gridId, teamId, meetingId, templateId, issueId };

'use strict';
// A bucket's count and digest (openapi/PROTOCOL.md §5): the XOR of sha256("<id>\n<rev>") over
// its entities, kept one change at a time, so a replica can check a checkpoint cheaply.

require('./polyfill');
const { sha256 } = require('@noble/hashes/sha2');
const { utf8, toHex } = require('./bytes');

class BucketDigest {
  constructor() {
    this.count = 0;
    this.digest = new Uint8Array(32);
  }

  /** Adds an entity at a revision. */
  add(entityId, rev) {
    this.count += 1;
    this.xor(entityId, rev);
  }

  /** Removes an entity at the revision it had. */
  remove(entityId, rev) {
    this.count = Math.max(0, this.count - 1);
    this.xor(entityId, rev);
  }

  xor(entityId, rev) {
    const item = sha256(utf8(`${entityId}\n${rev}`));
    for (let i = 0; i < 32; i++) this.digest[i] ^= item[i];
  }

  /** The digest as hex. */
  hex() {
    return toHex(this.digest);
  }
}

module.exports = { BucketDigest };

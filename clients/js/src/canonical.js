'use strict';
// The canonical encoding of openapi/PROTOCOL.md §2: RFC 8785 (JCS) on a subset of JSON that
// every implementation writes alike — integers only, within ±(2^53−1); ASCII keys, sorted; at
// most 32 levels of nesting; strings as JSON.stringify writes them. A value outside the subset
// throws a CanonicalError, so it is never logged.

const MAX_SAFE_INTEGER = 9007199254740991;
const MAX_DEPTH = 32;

class CanonicalError extends Error {
  /** `kind`: `number`, `key`, `depth`, `string` or `type`; `path`: where, as a JSON path. */
  constructor(kind, path, message) {
    super(`${path}: ${message}`);
    this.name = 'CanonicalError';
    this.kind = kind;
    this.path = path;
  }
}

const { isWellFormed } = require('./bytes');

function string(s, path) {
  if (!isWellFormed(s)) {
    throw new CanonicalError('string', path, 'holds a lone surrogate (a character cut in half); it cannot be sent');
  }
  return JSON.stringify(s);
}

function write(value, path, depth) {
  if (depth > MAX_DEPTH) throw new CanonicalError('depth', path, `nested deeper than ${MAX_DEPTH} levels`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalError('number', path,
          'not an integer between -(2^53-1) and 2^53-1; send fractions as integers (micro-degrees, milliseconds)');
      }
      return String(value === 0 ? 0 : value);
    case 'string':
      return string(value, path);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => write(item, `${path}[${i}]`, depth + 1)).join(',')}]`;
      }
      // Only plain objects: a Date, a Map or a class instance is written otherwise by
      // JSON.stringify than here, and what is sent must be exactly what was signed.
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalError('type', path, 'only plain objects, arrays, text, integers, true, false and null can be sent');
      }
      const keys = Object.keys(value).filter((k) => value[k] !== undefined);
      for (const key of keys) {
        if (!/^[\x00-\x7f]*$/.test(key)) throw new CanonicalError('key', `${path}.${key}`, 'the key is not ASCII');
      }
      keys.sort();
      return `{${keys.map((k) => `${string(k, path)}:${write(value[k], `${path}.${k}`, depth + 1)}`).join(',')}}`;
    }
    default:
      throw new CanonicalError('type', path, `a ${typeof value} has no JSON form`);
  }
}

/** The canonical text of `value` (encode it as UTF-8 before hashing). */
function canonicalize(value) {
  return write(value, '$', 0);
}

module.exports = { canonicalize, CanonicalError, MAX_SAFE_INTEGER, MAX_DEPTH };

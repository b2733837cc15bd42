'use strict';
// TextEncoder for runtimes without it (some WeChat JS engines): @noble/curves encodes a few
// constant strings when it loads. Defined only where missing. Nothing needs TextDecoder: the
// SDK encodes with ./bytes and hands the libraries bytes, and never asks them to decode text.

const { utf8 } = require('./bytes');

const root = typeof globalThis === 'object' ? globalThis : this;

/** A lone surrogate replaced by U+FFFD, as the standard encoder does. */
function wellFormed(s) {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?:[^\ud800-\udbff]|^)[\udc00-\udfff]/g,
    (m) => (m.length === 2 ? `${m[0]}\ufffd` : '\ufffd'));
}

if (typeof root.TextEncoder === 'undefined') {
  root.TextEncoder = class {
    encode(s = '') {
      return utf8(wellFormed(String(s)));
    }
  };
}

module.exports = {};

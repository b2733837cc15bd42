'use strict';
// The runtime part (src/) runs in the WeChat mini-program runtime: no Node built-in module, no
// Node-only global.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const FORBIDDEN_GLOBALS = ['process', 'Buffer', '__dirname', '__filename', 'global', 'setImmediate', 'TextEncoder', 'TextDecoder'];

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : []);
}

/** The code of a file without its comments and string contents. */
function code(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/`(?:\\[\s\S]|[^`\\])*`/g, '``')
    .replace(/'(?:\\.|[^'\\])*'/g, (s) => (s.includes('/') || s.startsWith("'./") ? s : "''"));
}

test('no runtime file uses a Node-only API', () => {
  const found = [];
  const runtime = files(path.join(__dirname, '../src'));
  assert.ok(runtime.length >= 5);
  for (const file of runtime) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const name = m[1].replace(/^node:/, '');
      if (m[1].startsWith('node:') || builtinModules.includes(name.split('/')[0])) found.push(`${file}: require('${m[1]}')`);
    }
    const body = code(text);
    for (const g of FORBIDDEN_GLOBALS) {
      if (new RegExp(`(^|[^.\\w$])${g}\\b`).test(body)) found.push(`${file}: ${g}`);
    }
  }
  assert.deepEqual(found, []);
});

test('the check itself catches a Node built-in', () => {
  assert.ok(builtinModules.includes('fs') && builtinModules.includes('crypto'));
  assert.match(code("const x = Buffer.from('a');"), /Buffer/);
});

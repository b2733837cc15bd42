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

const MINIPROGRAM = path.join(__dirname, '../../../miniprogram');

/** The mini-program's own files, its tests aside. */
function miniprogramFiles() {
  return fs.readdirSync(MINIPROGRAM, { withFileTypes: true })
    .filter((e) => e.name !== 'test')
    .flatMap((e) => (e.isDirectory() ? files(path.join(MINIPROGRAM, e.name)) : e.name.endsWith('.js') ? [path.join(MINIPROGRAM, e.name)] : []));
}

test('no runtime file of the SDK or the mini-program uses a Node-only API', () => {
  const found = [];
  const runtime = files(path.join(__dirname, '../src')).concat(miniprogramFiles());
  assert.ok(runtime.length >= 30);
  for (const file of runtime) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const name = m[1].replace(/^node:/, '');
      if (m[1].startsWith('node:') || builtinModules.includes(name.split('/')[0])) found.push(`${file}: require('${m[1]}')`);
    }
    // The vendored libraries (audited, unchanged) mention TextEncoder only on the paths that
    // take strings; the SDK hands them bytes. Their requires are checked; their globals are not.
    if (file.includes(`${path.sep}vendor${path.sep}`) || file.endsWith('polyfill.js')) continue;
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

test('the mini-program is whole and small: every page has its four files, the package is under 2 MB', () => {
  const app = JSON.parse(fs.readFileSync(path.join(MINIPROGRAM, 'app.json'), 'utf8'));
  for (const page of app.pages) {
    for (const ext of ['js', 'wxml', 'wxss', 'json']) {
      assert.ok(fs.existsSync(path.join(MINIPROGRAM, `${page}.${ext}`)), `${page}.${ext}`);
    }
  }
  const size = (dir) => fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== 'test')
    .reduce((sum, e) => sum + (e.isDirectory() ? size(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size), 0);
  const bytes = size(MINIPROGRAM);
  assert.ok(bytes < 2 * 1024 * 1024, `${bytes} bytes`);
});

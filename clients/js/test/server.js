'use strict';
// Starts the real anjian-server over the demo town on a free loopback port, for the SDK's tests.
// The binary is ANJIAN_SERVER, or the workspace's debug build (`cargo build -p anjian-server`).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ADMIN_PASSWORD = 'admin-password-for-js-tests';

function binary() {
  const bin = process.env.ANJIAN_SERVER || path.join(__dirname, '../../../target/debug/anjian-server');
  if (!fs.existsSync(bin)) {
    throw new Error(`no server binary at ${bin}: run \`cargo build -p anjian-server\` first, or set ANJIAN_SERVER`);
  }
  return bin;
}

/** The fake of WeChat's jscode2session (tests/src/wechat.rs) on loopback: {base, stop()}. */
async function fakeWeChat(appId, secret) {
  const bin = process.env.ANJIAN_FAKE_WECHAT || path.join(__dirname, '../../../target/debug/fake-wechat');
  if (!fs.existsSync(bin)) {
    throw new Error(`no fake-wechat at ${bin}: run \`cargo build -p anjian-tests --bin fake-wechat\` first, or set ANJIAN_FAKE_WECHAT`);
  }
  const child = spawn(bin, [appId, secret, '600'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    child.stdout.once('data', (chunk) => resolve(chunk.toString().trim().split('\n')[0]));
    child.on('exit', (code) => reject(new Error(`fake-wechat exited (${code})`)));
  });
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/**
 * The demo server: {url, passwords, stop()}. With `wechat: true`, WeChat login is on, against
 * the fake: `wx.login` codes are `user:<name>`.
 */
async function demoServer({ wechat = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anjian-js-'));
  const args = ['demo', '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'];
  let fake = null;
  if (wechat) {
    fake = await fakeWeChat('wx-js-tests', 'js-tests-secret');
    fs.writeFileSync(path.join(dir, 'config.toml'),
      `[wechat]\napp_id = "wx-js-tests"\napp_secret = "js-tests-secret"\napi_base = "${fake.base}"\n`);
    args.push('--config', path.join(dir, 'config.toml'));
  }
  const child = spawn(binary(), args, {
    env: { ...process.env, ANJIAN_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: 'warn,anjian_server::startup=info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const passwords = { admin: ADMIN_PASSWORD };
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s:\n${out}`)), 60000);
    const read = (chunk) => {
      out += chunk.toString();
      for (const m of out.matchAll(/^\s{2}(\w+)\s{2,}(\S+)\s{2,}/gm)) passwords[m[1]] = m[2];
      const addr = out.match(/local_addr=(127\.0\.0\.1:\d+)/);
      if (addr) {
        clearTimeout(timer);
        resolve(`http://${addr[1]}`);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
  passwords.admin = ADMIN_PASSWORD;
  return {
    url,
    passwords,
    dir,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      if (fake) await fake.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the demo server before a test file's tests and stops it after them. Returns an object
 * whose `url` and `passwords` are the server's once it runs.
 */
function useDemoServer(options) {
  const test = require('node:test');
  const shared = {};
  let server = null;
  test.before(async () => {
    server = await demoServer(options);
    Object.assign(shared, { url: server.url, passwords: server.passwords });
  });
  test.after(async () => {
    if (server) await server.stop();
  });
  return shared;
}

module.exports = { demoServer, useDemoServer, ADMIN_PASSWORD };

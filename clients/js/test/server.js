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

/** The demo server: {url, passwords, stop()}. */
async function demoServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anjian-js-'));
  const child = spawn(binary(), ['demo', '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'], {
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
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { demoServer, ADMIN_PASSWORD };

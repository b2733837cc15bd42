'use strict';
// Signing in with WeChat: the office makes the user and an invitation code; the first wx.login
// needs the code, later ones WeChat alone. The server talks to a fake of WeChat's
// jscode2session on loopback.

const test = require('node:test');
const assert = require('node:assert/strict');
const { standIn } = require('../../clients/js/test/wx-standin');
const { useDemoServer } = require('../../clients/js/test/server');
const { signIn, roleNames } = require('../logic/session');

const server = useDemoServer({ wechat: true });

async function admin(method, path, body, token) {
  const res = await fetch(server.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body && JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

test('the first WeChat sign-in takes the invitation code; later ones WeChat alone', async () => {
  const { token } = await admin('POST', '/v1/auth/login', { username: 'admin', password: server.passwords.admin });
  const user = await admin('POST', '/v1/admin/users', {
    username: 'zhao', display_name: '网格员 赵', roles: ['inspector'], scopes: { grids: ['dongzao'] },
  }, token);
  const { code } = await admin('POST', '/v1/admin/invitations', { user_id: user.id }, token);

  const { wx, network } = standIn();
  let logins = 0;
  network.loginCode = () => `user:zhao:${++logins}`;
  await assert.rejects(signIn(wx, server.url, ''), /invitation/, 'a WeChat not yet bound needs the code');
  const device = await signIn(wx, server.url, ` ${code} `);
  assert.equal(device.user.username, 'zhao');
  assert.deepEqual(roleNames(device.user), ['网格员']);
  assert.ok(device.state.device_id, 'the phone is enrolled');

  const again = await signIn(wx, server.url, '');
  assert.equal(again.user.username, 'zhao', 'bound: WeChat alone signs in');
  assert.equal(again.state.device_id, device.state.device_id, 'the same device, in the same folder');
  const report = await again.sync();
  assert.ok(report.pulled > 0, 'and the phone syncs');
});

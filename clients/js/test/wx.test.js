'use strict';
// The wx adapter, through a stand-in for `wx` that keeps WeChat's call shapes, against the real
// server: a device made on it captures offline and sends once the network returns.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Device } = require('../src/device');
const { wxPlatform } = require('../src/platform/wx');
const { standIn } = require('./wx-standin');
const { useDemoServer } = require('./server');

const server = useDemoServer();

test('on the wx adapter, a record captured offline is sent when the network returns', async () => {
  const { wx, network } = standIn();
  const platform = wxPlatform(wx);
  const device = await Device.open(platform, { dir: platform.root, server: server.url, retry: { attempts: 1 } });
  await device.login('teamlead', server.passwords.teamlead);
  await device.enrol('班组长的手机');
  await device.sync();
  const team = (await device.view('team')).find((t) => t.body.code === device.user.scopes.team);
  assert.ok(team, 'the team lead reads their team');

  network.set(false);
  const photo = await device.addPhoto(fs.readFileSync(path.join(__dirname, '../../../server/demo/photos/extinguisher.png')));
  const day = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  const { meetingId } = require('../src/ids');
  const id = meetingId(team.body.enterprise_id, team.body.code, day, '夜班', 'handover');
  await device.capture('meeting.submit', id, {
    enterprise_id: team.body.enterprise_id, team_id: team.body.code, date: day, shift: '夜班',
    slot: 'handover', host: '陈阿妹', started_at_ms: Date.now() - 600000, ended_at_ms: Date.now() - 240000,
    place: '烘干车间',
    attendance: [{ name: '陈阿妹', status: 'present', fit_for_duty: true, ppe_ok: true }],
    topics: ['交接烘干炉运行记录'], risks: [], handover: ['2号炉温控器偏高'],
  }, { blobRefs: [photo] });
  await assert.rejects(device.sync());
  assert.equal((await device.status()).pending, 1);

  network.set(true);
  const report = await device.sync();
  assert.equal(report.pushed, 1);
  assert.equal(report.notApplied, 0, JSON.stringify(await device.receipts()));
  const meeting = (await device.view('meeting')).find((m) => m.id === id);
  assert.ok(meeting && !meeting.pending);
  assert.ok(network.maxInFlight <= 10);
  assert.equal(network.uploads, 1, 'the photo went by wx.uploadFile');
});

test('without a secure random source no key is made', async () => {
  const { wx } = standIn();
  delete wx.getRandomValues;
  const platform = wxPlatform(wx);
  const device = await Device.open(platform, { dir: platform.root, server: server.url });
  await device.login('teamlead', server.passwords.teamlead);
  await assert.rejects(device.enrol('手机'), /secure random/);
  assert.equal(device.state.secret, undefined);
});

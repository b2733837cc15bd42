'use strict';
// The mini-program's page logic, on a stand-in for `wx` (WeChat's call shapes) against the real
// server over the demo town: an inspection captured offline is queued, and sent by itself once
// the network returns.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { standIn } = require('../../clients/js/test/wx-standin');
const { useDemoServer } = require('../../clients/js/test/server');
const { autoSync } = require('../logic/app');
const inspection = require('../logic/inspection');
const hazard = require('../logic/hazard');
const meeting = require('../logic/meeting');
const article = require('../logic/article');
const { todayWork, chinaDate } = require('../logic/work');
const { signInWithPassword } = require('../logic/session');

const PHOTOS = path.join(__dirname, '../../server/demo/photos');

const server = useDemoServer();

async function phone(user) {
  const { wx, network } = standIn();
  const device = await signInWithPassword(wx, server.url, user, server.passwords[user]);
  assert.ok(device.state.device_id, 'enrolled');
  return { wx, network, device };
}

test('an inspection captured offline is queued and sent once the network returns', async () => {
  const { wx, network, device } = await phone('inspector');
  const reports = [];
  const sync = autoSync(wx, device, (report, err) => reports.push(err || report));
  await sync.request();
  assert.ok(!(reports[0] instanceof Error), String(reports[0]));

  network.set(false);
  const enterprise = (await device.view('enterprise')).find((e) => e.body.name.includes('海晟'));
  assert.ok(enterprise, 'the plant is in the inspector\'s grid');
  const draft = inspection.begin(enterprise, await device.view('template'), 'grid_patrol',
    [{ name: '林检查' }, { name: '王网格' }], Date.now());
  assert.ok(draft.items.length > 3);
  assert.match(inspection.problems(draft).join(), /未检查/);
  const photo = await device.addPhoto(fs.readFileSync(path.join(PHOTOS, 'extinguisher.png')));
  const signature = await device.addPhoto(fs.readFileSync(path.join(PHOTOS, 'panel.png')));
  for (const item of draft.items) inspection.record(draft, item.code, 'ok');
  inspection.record(draft, draft.items[0].code, 'hazard', '灭火器压力不足', [photo]);
  assert.match(inspection.problems(draft).join(), /签字/);
  draft.signature = signature;
  assert.deepEqual(inspection.problems(draft), []);
  const id = await inspection.submit(device, draft, Date.now(), '2026-12-31');
  assert.equal((await device.status()).pending, 2, 'the inspection and its hazard wait');
  await sync.request();
  assert.ok(reports.at(-1) instanceof Error, 'offline, the sync fails and keeps everything');
  assert.equal((await device.status()).pending, 2);

  // The network returns: the phone syncs by itself.
  network.set(true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await sync.idle();
  const last = reports.at(-1);
  assert.ok(!(last instanceof Error), String(last));
  assert.equal(last.pushed, 2);
  assert.equal(last.notApplied, 0);
  const status = await device.status();
  assert.equal(status.pending, 0);
  assert.equal(status.unsentPhotos, 0);
  const kept = (await device.view('inspection')).find((i) => i.id === id);
  assert.ok(kept && !kept.pending);
  const found = (await device.view('hazard')).filter((h) => h.body.inspection_id === id);
  assert.equal(found.length, 1);
  assert.equal(found[0].body.description, '灭火器压力不足');
});

test('home shows each role its work, and a hazard the steps its state allows', async () => {
  const { device: inspector } = await phone('inspector');
  await inspector.sync();
  const work = await todayWork(inspector, chinaDate(Date.now()));
  const lights = work.accept.find((h) => h.body.description.includes('应急照明灯'));
  assert.ok(lights, 'the rectified lights wait for the inspector\'s acceptance');
  assert.deepEqual(hazard.steps(lights, inspector.user.roles).map((s) => s.to), ['closed', 'rectifying']);

  const { device: teamlead } = await phone('teamlead');
  await teamlead.sync();
  const today = await todayWork(teamlead, chinaDate(Date.now()));
  assert.ok(today.meetings.length >= 1, 'meetings still due today');
  assert.ok(!today.meetings.some((m) => m.slot === 'pre_shift'), 'today\'s pre-shift meeting was held');

  const { device: manager } = await phone('manager');
  await manager.sync();
  const mine = await todayWork(manager, chinaDate(Date.now()));
  assert.ok(mine.rectify.length >= 1, 'hazards of the plant to rectify');
  assert.ok(mine.rectify.every((h) => h.body.enterprise_id === manager.user.scopes.enterprise));
});

test('a team lead\'s meeting takes its attendance from the team\'s roster', async () => {
  const { device } = await phone('teamlead');
  await device.sync();
  const { enterprise, team: code } = device.user.scopes;
  const team = (await device.view('team')).find((t) => t.body.enterprise_id === enterprise && t.body.code === code);
  const attendance = meeting.roster(await device.view('worker'), team);
  assert.deepEqual(attendance.map((a) => a.name).sort(), ['林国强', '陈阿妹']);
  attendance[1].ppe_ok = false;
  const now = Date.now();
  const id = await meeting.submit(device, team, {
    date: chinaDate(now), shift: '晚班', slot: 'mid_shift', host: '陈阿妹',
    startedAt: now - 7 * 60000, endedAt: now - 60000, place: '烘干车间', attendance,
    topics: ['检查烘干炉温控'], photos: [await device.addPhoto(fs.readFileSync(path.join(PHOTOS, 'corridor.png')))],
  });
  const report = await device.sync();
  assert.equal(report.notApplied, 0, JSON.stringify(await device.receipts()));
  const held = (await device.view('meeting')).find((m) => m.id === id);
  assert.equal(held.body.attendance.filter((a) => !a.ppe_ok).length, 1);
  assert.ok(held.body.attendance.every((a) => a.worker_id), 'each person names their worker record');
});

test('a publicist\'s draft is saved, edited and sent for review', async () => {
  const { device } = await phone('publicist');
  await device.sync();
  const id = await article.save(device, null, { title: '冬季防火', body: '第一段' });
  await device.sync();
  let draft = (await device.view('article')).find((a) => a.id === id);
  assert.equal(article.baseVersion(draft), 1, 'the server\'s version, not its revision');
  assert.equal(draft.body.state, 'draft');
  const work = await todayWork(device, chinaDate(Date.now()));
  assert.ok(work.articles.some((a) => a.id === id), 'an article to finish');
  await article.save(device, draft, { title: '冬季防火须知', body: '第一段\n第二段' });
  draft = (await device.view('article')).find((a) => a.id === id);
  await article.submit(device, draft);
  const report = await device.sync();
  assert.equal(report.notApplied, 0, JSON.stringify(await device.receipts()));
  const sent = (await device.view('article')).find((a) => a.id === id);
  assert.equal(sent.body.state, 'pending_review');
  assert.equal(sent.body.title, '冬季防火须知');
});

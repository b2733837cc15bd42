'use strict';
// Every page's script, run as WeChat runs it — `Page({...})` registered with `getApp()` and `wx`
// in scope — on a stand-in for `wx` against the real server: each page loads and shows what its
// template binds, and its actions capture what they say.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { standIn } = require('../../clients/js/test/wx-standin');
const { useDemoServer } = require('../../clients/js/test/server');
const { autoSync, openDevice } = require('../logic/app');
const { signInWithPassword } = require('../logic/session');

const server = useDemoServer();

/** Runs page `name` with `wx` and an app around `device`: its instance, after setData. */
function page(name, wx, app) {
  let definition = null;
  globalThis.Page = (d) => {
    definition = d;
  };
  globalThis.getApp = () => app;
  globalThis.wx = wx;
  const file = path.join(__dirname, `../pages/${name}/${name}.js`);
  delete require.cache[require.resolve(file)];
  require(file);
  assert.ok(definition, `${name} registers a page`);
  const instance = Object.create(definition);
  instance.data = JSON.parse(JSON.stringify(definition.data || {}));
  instance.setData = (changes) => Object.assign(instance.data, changes);
  return instance;
}

/** A wx stand-in with the UI calls the pages make recorded. */
function phoneUi() {
  const { wx, network } = standIn();
  const shown = [];
  Object.assign(wx, {
    showToast: (o) => shown.push(['toast', o.title]),
    showModal: (o) => shown.push(['modal', o.content]),
    navigateBack: () => shown.push(['back']),
    navigateTo: (o) => shown.push(['to', o.url]),
    redirectTo: (o) => shown.push(['redirect', o.url]),
    reLaunch: (o) => shown.push(['relaunch', o.url]),
    stopPullDownRefresh: () => {},
    chooseMedia: (o) => o.success({ tempFiles: [{ tempFilePath: path.join(__dirname, '../../server/demo/photos/panel.png') }] }),
    getStorageSync: (k) => wx.storage[k],
    setStorageSync: (k, v) => {
      wx.storage[k] = JSON.parse(JSON.stringify(v));
    },
    storage: {},
  });
  return { wx, network, shown };
}

/** The app as app.js makes it, signed in as `user` (or no one). */
async function appFor(wx, user) {
  const app = {
    globalData: { server: server.url, sync: null, lastError: null },
    the: null,
    device: async () => app.the,
    useDevice(device) {
      app.the = device;
      app.globalData.sync = autoSync(wx, device);
      return device;
    },
    syncSoon: () => app.globalData.sync && app.globalData.sync.request(),
  };
  if (user) {
    app.useDevice(await signInWithPassword(wx, server.url, user, server.passwords[user]));
    await app.globalData.sync.request();
  }
  return app;
}

test('home sends one not signed in to the login page, and shows an inspector their work', async () => {
  const { wx, shown } = phoneUi();
  const home = page('home', wx, await appFor(wx, null));
  await home.onShow();
  assert.deepEqual(shown.at(-1), ['redirect', '/pages/login/login']);

  const ui = phoneUi();
  const app = await appFor(ui.wx, 'inspector');
  const signedIn = page('home', ui.wx, app);
  await signedIn.onShow();
  assert.equal(signedIn.data.roles, '网格员');
  assert.ok(signedIn.data.work.accept.some((h) => h.body.description.includes('应急照明灯')));
  assert.equal(signedIn.data.status.pending, 0);
});

test('the login page signs in with a password in development', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, null);
  const login = page('login', wx, app);
  login.onUsername({ detail: { value: 'publicist' } });
  login.onPassword({ detail: { value: server.passwords.publicist } });
  await login.onPasswordSignIn();
  assert.equal(login.data.error, '');
  assert.deepEqual(shown.at(-1), ['relaunch', '/pages/home/home']);
  assert.equal(app.the.user.username, 'publicist');
});

test('the hazard page offers an inspector acceptance and logs it', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, 'inspector');
  const lights = (await app.the.view('hazard')).find((h) => h.body.description.includes('应急照明灯'));
  const hazard = page('hazard', wx, app);
  await hazard.onLoad({ id: lights.id });
  assert.deepEqual(hazard.data.steps.map((s) => s.label), ['验收通过，销号', '退回整改']);
  await hazard.onStep({ currentTarget: { dataset: { to: 'closed' } } });
  assert.deepEqual(shown.at(-1), ['back']);
  await app.globalData.sync.idle();
  const after = (await app.the.view('hazard')).find((h) => h.id === lights.id);
  assert.equal(after.body.state, 'closed');
});

test('the hazard page reports a hazard with its photo and deadline', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, 'inspector');
  const report = page('hazard', wx, app);
  await report.onLoad({});
  assert.ok(report.data.enterpriseNames.length > 0);
  const pick = report.data.enterpriseNames.length - 1;
  report.onEnterprise({ detail: { value: String(pick) } });
  report.onDeadline({ detail: { value: '2027-01-15' } });
  await report.onReport({ detail: { value: { description: '电缆沟盖板缺失', major: false } } });
  assert.deepEqual(shown.at(-1)[0], 'modal', 'a hazard needs its photo');
  await report.onPhoto();
  await report.onReport({ detail: { value: { description: '电缆沟盖板缺失', major: false } } });
  assert.deepEqual(shown.at(-1), ['back'], JSON.stringify(shown));
  await app.globalData.sync.idle();
  const found = (await app.the.view('hazard')).find((h) => h.body.description === '电缆沟盖板缺失');
  assert.ok(found && !found.pending, JSON.stringify(await app.the.receipts()));
  assert.equal(found.body.enterprise_id, report.data.enterprises[pick].id);
  assert.equal(found.body.deadline, '2027-01-15');
});

test('the inspection page goes through the checklist, signs and submits', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, 'inspector');
  const form = page('inspection', wx, app);
  await form.onLoad({});
  form.onKind({ detail: { value: String(form.data.kindKeys.indexOf('grid_patrol')) } });
  await form.onBegin({ detail: { value: { inspectors: '林检查、王网格' } } });
  const { draft } = form.data;
  assert.deepEqual(draft.inspectors, [{ name: '林检查' }, { name: '王网格' }]);
  assert.equal(wx.storage['inspection-drafts'].length, 1, 'the draft is kept as it grows');
  for (const [i, item] of draft.items.entries()) {
    await form.onVerdict({ currentTarget: { dataset: { code: item.code, verdict: i === 0 ? 'hazard' : 'ok' } } });
  }
  form.onNote({ currentTarget: { dataset: { code: draft.items[0].code } }, detail: { value: '消防栓被遮挡' } });
  await form.onSubmit();
  assert.match(shown.at(-1)[1], /签字/);
  await form.onSignature();
  await form.onSubmit();
  assert.deepEqual(shown.at(-1), ['back'], JSON.stringify(shown));
  assert.equal(wx.storage['inspection-drafts'].length, 0, 'submitted, the draft is gone');
  await app.globalData.sync.idle();
  const inspections = await app.the.view('inspection');
  const kept = inspections.find((i) => i.body.enterprise_id === draft.enterprise_id && i.body.started_at_ms === draft.started_at_ms);
  assert.ok(kept && !kept.pending, JSON.stringify(await app.the.receipts()));
  const raised = (await app.the.view('hazard')).filter((h) => h.body.inspection_id === kept.id);
  assert.deepEqual(raised.map((h) => h.body.description), ['消防栓被遮挡']);
});

test('a major hazard\'s first step asks for the two reports (双报告) and sends them', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, 'inspector');
  const report = page('hazard', wx, app);
  await report.onLoad({});
  await report.onPhoto();
  await report.onReport({ detail: { value: { description: '液氨管道腐蚀', major: true } } });
  await app.globalData.sync.idle();
  const major = (await app.the.view('hazard')).find((h) => h.body.description === '液氨管道腐蚀');
  assert.ok(major && !major.pending && major.body.level === 'major');

  const hazard = page('hazard', wx, app);
  await hazard.onLoad({ id: major.id });
  assert.ok(hazard.data.needsDoubleReport);
  await hazard.onStep({ currentTarget: { dataset: { to: 'plan_pending' } } });
  assert.match(shown.at(-1)[1], /向监管部门报告/, 'not without the days');
  hazard.onRegulatorDay({ detail: { value: '2026-11-30' } });
  hazard.onCongressDay({ detail: { value: '2026-12-01' } });
  await hazard.onStep({ currentTarget: { dataset: { to: 'plan_pending' } } });
  assert.deepEqual(shown.at(-1), ['back']);
  await app.globalData.sync.idle();
  const after = (await app.the.view('hazard')).find((h) => h.id === major.id);
  assert.equal(after.body.state, 'plan_pending', JSON.stringify(await app.the.status()));
  assert.deepEqual(after.body.double_report, {
    regulator_at_ms: Date.parse('2026-11-30T00:00:00+08:00'),
    congress_at_ms: Date.parse('2026-12-01T00:00:00+08:00'),
  });
});

test('an enforcement inspection takes two officers with their certificate numbers (执法证号)', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, 'inspector');
  const form = page('inspection', wx, app);
  await form.onLoad({});
  form.onKind({ detail: { value: String(form.data.kindKeys.indexOf('enforcement')) } });
  await form.onBegin({ detail: { value: { inspectors: '林检查 32010012、王网格' } } });
  const { draft } = form.data;
  assert.deepEqual(draft.inspectors, [{ name: '林检查', certificate: '32010012' }, { name: '王网格' }]);
  for (const item of draft.items) await form.onVerdict({ currentTarget: { dataset: { code: item.code, verdict: 'ok' } } });
  await form.onSignature();
  await form.onSubmit();
  assert.match(shown.at(-1)[1], /执法证号/, 'one officer without a number is refused on the phone');
  assert.equal(form.data.inspectorsText, '林检查 32010012、王网格');
  form.onInspectors({ detail: { value: '林检查 32010012、王网格：32010013' } });
  await form.onSubmit();
  assert.deepEqual(shown.at(-1), ['back'], JSON.stringify(shown));
  await app.globalData.sync.idle();
  const kept = (await app.the.view('inspection')).find((i) => i.body.started_at_ms === draft.started_at_ms);
  assert.ok(kept && !kept.pending, JSON.stringify(await app.the.status()));
  assert.equal(kept.body.kind, 'enforcement');
});

test('the meeting page takes the roster and saves the meeting', async () => {
  const { wx, shown } = phoneUi();
  const app = await appFor(wx, 'teamlead');
  const meeting = page('meeting', wx, app);
  await meeting.onLoad({ slot: 'handover' });
  assert.equal(meeting.data.attendance.length, 2);
  meeting.onToggle({ currentTarget: { dataset: { index: 0, field: 'ppe_ok' } } });
  const form = { detail: { value: { shift: '夜班', host: '陈阿妹', place: '烘干车间', topics: '交接\n清点', risks: '', handover: '2号炉' } } };
  await meeting.onSubmit(form);
  assert.deepEqual(shown.at(-1), ['modal', '请拍一张会议现场照片'], 'a meeting needs its photo');
  await meeting.onPhoto();
  await meeting.onSubmit(form);
  assert.deepEqual(shown.at(-1), ['back'], JSON.stringify(shown));
  await app.globalData.sync.idle();
  const saved = (await app.the.view('meeting')).find((m) => m.body.slot === 'handover' && m.body.shift === '夜班');
  assert.ok(saved && !saved.pending, JSON.stringify(await app.the.receipts()));
  assert.deepEqual(saved.body.topics, ['交接', '清点']);
});

test('the article page saves a draft and sends it for review; the sync page shows what waits', async () => {
  const { wx, network, shown } = phoneUi();
  const app = await appFor(wx, 'publicist');
  network.set(false);
  const article = page('article', wx, app);
  await article.onLoad({});
  // As the template sends them: the fields as they are typed, then the button.
  article.onTitle({ detail: { value: '安全生产月' } });
  article.onBody({ detail: { value: '正文' } });
  await article.onSave();
  article.onBody({ detail: { value: '正文，改过一次' } });
  await article.onSubmitForReview();
  assert.deepEqual(shown.at(-1), ['back'], JSON.stringify(shown));
  const sync = page('sync', wx, app);
  await sync.onShow();
  assert.equal(sync.data.status.pending, 3, 'two saves and the submission wait, offline');
  network.set(true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await sync.onSync();
  assert.equal(sync.data.status.pending, 0);
  assert.deepEqual(sync.data.status.conflicts, [], 'the second save was based on the first');
  const sent = (await app.the.view('article')).find((a) => a.body.title === '安全生产月');
  assert.equal(sent.body.state, 'pending_review');
  assert.equal(sent.body.body, '正文，改过一次');
});

test('every page template binds only what its page sets', () => {
  for (const name of ['home', 'login', 'inspection', 'hazard', 'meeting', 'article', 'sync']) {
    const wxml = fs.readFileSync(path.join(__dirname, `../pages/${name}/${name}.wxml`), 'utf8');
    // Tags balance (WXML is XML-like: every tag closed, or self-closed).
    const stack = [];
    for (const m of wxml.matchAll(/<(\/?)([a-z-]+)[^>]*?(\/?)>/g)) {
      if (m[3] === '/') continue;
      if (m[1] === '/') assert.equal(stack.pop(), m[2], `${name}: </${m[2]}> closes <${stack.at(-1)}>`);
      else stack.push(m[2]);
    }
    assert.deepEqual(stack, [], `${name}: unclosed tags`);
    // Every handler the template names is a method of its page.
    globalThis.Page = (d) => {
      for (const h of wxml.matchAll(/bind(?:tap|input|submit|change)="(\w+)"/g)) {
        assert.equal(typeof d[h[1]], 'function', `${name}: ${h[1]}`);
      }
    };
    const file = path.join(__dirname, `../pages/${name}/${name}.js`);
    delete require.cache[require.resolve(file)];
    require(file);
  }
});

test('two people on one phone each have their own device: key, log and records', async () => {
  const { wx } = phoneUi();
  const inspector = await signInWithPassword(wx, server.url, 'inspector', server.passwords.inspector);
  await inspector.capture('hazard.deadline', (await (async () => {
    await inspector.sync();
    return (await inspector.view('hazard'))[0].id;
  })()), { deadline: '2027-02-01', note: '离线改期' });
  const manager = await signInWithPassword(wx, server.url, 'manager', server.passwords.manager);
  assert.notEqual(manager.state.device_id, inspector.state.device_id);
  assert.equal((await manager.status()).pending, 0, 'the inspector\'s record is not the manager\'s to send');
  assert.equal((await inspector.status()).pending, 1);
  // A device refuses another user's login.
  const shared = await openDevice(wx, server.url, inspector.user.id);
  const answer = await (await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'manager', password: server.passwords.manager }),
  })).json();
  await assert.rejects(shared.signedIn(answer), /another|inspector/);
});

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
const { openDevice, autoSync } = require('../logic/app');
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

async function appFor(wx, user) {
  const device = await openDevice(wx, server.url);
  if (user) await signInWithPassword(device, user, server.passwords[user]);
  const sync = autoSync(wx, device);
  if (user) await sync.request();
  return {
    globalData: { sync, lastError: null },
    device: async () => device,
    syncSoon: () => sync.request(),
    the: device,
  };
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
  await article.onSubmitForReview({ detail: { value: { title: '安全生产月', body: '正文' } } });
  assert.deepEqual(shown.at(-1), ['back'], JSON.stringify(shown));
  const sync = page('sync', wx, app);
  await sync.onShow();
  assert.equal(sync.data.status.pending, 2, 'the draft and its submission wait, offline');
  network.set(true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await sync.onSync();
  assert.equal(sync.data.status.pending, 0);
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
      for (const h of wxml.matchAll(/bind(?:tap|input|submit)="(\w+)"/g)) {
        assert.equal(typeof d[h[1]], 'function', `${name}: ${h[1]}`);
      }
    };
    const file = path.join(__dirname, `../pages/${name}/${name}.js`);
    delete require.cache[require.resolve(file)];
    require(file);
  }
});

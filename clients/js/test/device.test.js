'use strict';
// The SDK against the real server (the demo town), in Node: capture offline then sync, a lost
// push answer, a photo upload cut off and resumed, two people in conflict, a scope change.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Device, SyncError } = require('../src/device');
const { NetworkError } = require('../src/transport');
const { nodePlatform } = require('../node/platform');
const { useDemoServer } = require('./server');

const PHOTOS = path.join(__dirname, '../../../server/demo/photos');
const PHOTO = fs.readFileSync(path.join(PHOTOS, 'panel.png'));
/** A photo no other test sends (the server keeps one copy of each). */
const CORRIDOR = fs.readFileSync(path.join(PHOTOS, 'corridor.png'));
const QUICK = { attempts: 2, baseMs: 5, maxMs: 20 };

const server = useDemoServer();

/** A device of `user` in a new folder, logged in and enrolled, with a network a test can cut. */
async function device(user, options = {}) {
  const network = { down: false, offline() { return this.down; }, oneShots: 0 };
  if (options.intercept) network.intercept = options.intercept;
  network.interceptUpload = (request, upload) => {
    network.oneShots += 1;
    return upload(request);
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `anjian-device-${user}-`));
  const d = await Device.open(nodePlatform(network), {
    dir, server: server.url, retry: QUICK, chunkBytes: options.chunkBytes, oneShotBytes: options.oneShotBytes,
  });
  await d.login(user, server.passwords[user]);
  await d.enrol(`${user}'s test phone`);
  d.network = network;
  d.dir = dir;
  return d;
}

async function firstHazard(d, words) {
  const hazards = await d.view('hazard');
  const found = hazards.find((h) => h.body.description.includes(words));
  assert.ok(found, `no hazard like ${words}`);
  return found;
}

test('an inspection captured offline is kept, then sent once with its photo', async () => {
  const inspector = await device('inspector');
  await inspector.sync();
  const [enterprise] = await inspector.view('enterprise');
  assert.ok(enterprise, 'the inspector reads the enterprises of their grids');

  inspector.network.down = true;
  const photo = await inspector.addPhoto(PHOTO);
  const id = await inspector.newId();
  await inspector.capture('hazard.report', id, {
    enterprise_id: enterprise.id,
    level: 'general',
    description: '配电箱门缺失😀',
    deadline: '2026-12-20',
  }, { blobRefs: [photo] });
  let status = await inspector.status();
  assert.equal(status.pending, 1);
  assert.equal(status.unsentPhotos, 1);
  const shown = (await inspector.view('hazard')).find((h) => h.id === id);
  assert.ok(shown && shown.pending, 'shown as pending (待同步) before it is sent');
  await assert.rejects(inspector.sync(), NetworkError);
  assert.equal((await inspector.status()).pending, 1, 'nothing lost while offline');

  inspector.network.down = false;
  const report = await inspector.sync();
  assert.equal(report.photos, 1);
  assert.equal(inspector.network.oneShots, 1, 'a small photo goes in one request (wx.uploadFile)');
  assert.equal(report.pushed, 1);
  assert.equal(report.notApplied, 0);
  status = await inspector.status();
  assert.equal(status.pending, 0);
  assert.equal(status.unsentPhotos, 0);
  const sent = (await inspector.view('hazard')).find((h) => h.id === id);
  assert.equal(sent.pending, false);
  assert.equal(sent.body.description, '配电箱门缺失😀');
  assert.deepEqual(sent.blobs, [photo]);
  assert.equal((sent.missing_blobs || []).length, 0, 'evidentially complete: the photo arrived first');
  const receipts = await inspector.receipts();
  assert.equal(receipts[1].verdict, 'applied');
});

test('a push whose answer was lost is sent again and applied once', async () => {
  let lost = 0;
  const inspector = await device('inspector', {
    async intercept(request, send) {
      const answer = await send(request);
      if (request.url.endsWith('/v1/sync/push') && lost === 0) {
        lost += 1;
        throw new Error('the answer was lost on the way back');
      }
      return answer;
    },
  });
  await inspector.sync();
  const hazard = await firstHazard(inspector, '配电箱未接地');
  const event = await inspector.capture('hazard.deadline', hazard.id, { deadline: '2026-12-28', note: '等待配件' });
  const report = await inspector.sync();
  assert.equal(lost, 1, 'the first answer was lost');
  assert.equal(report.pushed, 1, 'the replay gave the stored receipt');
  const receipts = await inspector.receipts();
  assert.equal(receipts[event.seq].verdict, 'applied');
  const after = await firstHazard(inspector, '配电箱未接地');
  assert.equal(after.body.deadline, '2026-12-28');
  const steps = after.body.history.filter((s) => s.event_id === event.id);
  assert.equal(steps.length, 1, 'applied once');
});

test('a photo upload cut off is resumed from where the server has it', async () => {
  const patches = [];
  let signal = 'armed';
  const manager = await device('manager', {
    chunkBytes: 4096,
    oneShotBytes: 0,
    async intercept(request, send) {
      if (request.headers['x-http-method-override'] === 'PATCH') {
        // The signal goes after the first chunk, for the rest of this sync.
        if (signal === 'armed' && patches.length === 1) signal = 'down';
        if (signal === 'down') throw new Error('the signal went');
        patches.push(Number(request.headers['upload-offset']));
      }
      return send(request);
    },
  });
  const sha = await manager.addPhoto(CORRIDOR);
  await assert.rejects(manager.sync(), NetworkError);
  assert.deepEqual(patches, [0]);
  signal = 'back';
  const report = await manager.sync();
  assert.equal(report.photos, 1);
  assert.deepEqual(patches, [0, 4096, 8192], 'resumed at the server\'s offset, not from the start');
  assert.ok(CORRIDOR.length > 8192 && CORRIDOR.length <= 3 * 4096);
  assert.equal((await manager.status()).unsentPhotos, 0);
  const head = await fetch(`${server.url}/v1/blobs/${sha}`, { method: 'HEAD', headers: { authorization: `Bearer ${manager.state.token}` } });
  assert.equal(head.status, 200);
});

test('two people acting on one hazard offline: the first stands, the other is a conflict both see', async () => {
  const admin = await device('admin');
  const inspector = await device('inspector');
  await admin.sync();
  await inspector.sync();
  const lights = await firstHazard(inspector, '应急照明灯');
  assert.equal(lights.body.state, 'pending_acceptance');
  await admin.capture('hazard.transition', lights.id, { from: 'pending_acceptance', to: 'closed', note: '验收合格' });
  await inspector.capture('hazard.transition', lights.id, { from: 'pending_acceptance', to: 'rectifying', note: '指示牌仍不亮' });
  await admin.sync();
  const report = await inspector.sync();
  assert.equal(report.notApplied, 1);
  assert.equal((await firstHazard(inspector, '应急照明灯')).body.state, 'closed');
  await admin.sync();
  for (const d of [inspector, admin]) {
    const conflicts = (await d.status()).conflicts.filter((c) => c.about === lights.id && c.kind === 'hazard.transition' && c.code === 'stale-transition');
    const mine = conflicts.find((c) => c.verdict === 'conflict');
    assert.ok(mine, `shown to ${d.user.username}`);
    assert.match(mine.words, /他人处理/);
  }
});

test('a scope change resets the pull but never the outbox', async () => {
  const inspector = await device('inspector');
  await inspector.sync();
  const before = (await inspector.view('enterprise')).length;
  inspector.network.down = true;
  const [enterprise] = await inspector.view('enterprise');
  await inspector.capture('hazard.report', await inspector.newId(), {
    enterprise_id: enterprise.id, level: 'general', description: '消防通道堵塞',
  }, { blobRefs: [await inspector.addPhoto(PHOTO)] });
  inspector.network.down = false;

  // The office moves the inspector to one grid only.
  const admin = await device('admin');
  const { users } = await admin.transport.json('GET', '/v1/admin/users');
  const me = users.find((u) => u.username === 'inspector');
  await admin.transport.json('PATCH', `/v1/admin/users/${me.id}`, { json: { scopes: { grids: ['jiaoxie'] } } });

  // The token of the old scope may end with the change: log in again if so.
  try {
    await inspector.refreshUser();
  } catch (_) {
    await inspector.login('inspector', server.passwords.inspector);
  }
  const report = { pulled: 0, reset: false };
  await inspector.pull(report);
  assert.ok(report.reset, 'the pull started again');
  assert.equal((await inspector.status()).pending, 1, 'the outbox is kept');
  assert.deepEqual(inspector.user.scopes.grids, ['jiaoxie']);
  assert.ok((await inspector.view('enterprise')).length !== before || before === 0);
  const sent = await inspector.sync();
  assert.equal(sent.pushed, 1, 'and is sent at the next sync');
});

test('a replica that drifted from the server is pulled again whole; one that still disagrees is reported', async () => {
  let tamper = false;
  const leader = await device('leader', {
    async intercept(request, send) {
      const answer = await send(request);
      if (!tamper || !request.url.includes('/v1/sync/pull')) return answer;
      const page = JSON.parse(answer.text);
      for (const c of page.checkpoint || []) c.digest = '0'.repeat(64);
      return { ...answer, text: JSON.stringify(page) };
    },
  });
  await leader.sync();
  const teams = await leader.view('team');
  assert.ok(teams.length > 0);

  // A record lost from the device's copy: the digests disagree and the pull starts again.
  const file = path.join(leader.dir, 'replica.json');
  const replica = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete replica.entities[teams[0].id];
  fs.writeFileSync(file, JSON.stringify(replica));
  assert.equal((await leader.view('team')).length, teams.length - 1);
  const report = await leader.sync();
  assert.equal(report.errors.length, 0);
  assert.equal((await leader.view('team')).length, teams.length, 'the lost record is back');

  // The server's digests never match: shown as sent, and said.
  tamper = true;
  await assert.rejects(leader.sync(), (err) => err instanceof SyncError && err.code === 'digest-mismatch');
  assert.equal((await leader.view('team')).length, teams.length);
});

test('a push the server stops for good says why', async () => {
  const inspector = await device('inspector');
  await inspector.sync();
  // A log edited after signing: the server refuses it, and the device says so.
  const event = await inspector.capture('hazard.deadline', (await firstHazard(inspector, '液氨')).id, { deadline: '2027-01-05', note: '延期' });
  const file = path.join(inspector.dir, 'log', `${String(event.seq).padStart(16, '0')}.json`);
  const edited = JSON.parse(fs.readFileSync(file, 'utf8'));
  edited.payload.deadline = '2027-02-05';
  fs.writeFileSync(file, JSON.stringify(edited));
  await assert.rejects(inspector.sync(), (err) => err instanceof SyncError && err.code === 'hash-mismatch');
  assert.equal((await inspector.status()).pending, 1, 'nothing is dropped');
});

test('captures and photos taken while a sync runs are all kept, each once', async () => {
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  const manager = await device('manager', {
    oneShotBytes: 0,
    async intercept(request, send) {
      if (request.headers['x-http-method-override'] === 'PATCH') await gate;
      return send(request);
    },
  });
  await manager.sync();
  const [hazard] = (await manager.view('hazard')).filter((h) => h.body.state === 'reported' && h.body.level === 'general');
  await manager.addPhoto(fs.readFileSync(path.join(PHOTOS, 'extinguisher.png')));
  const syncing = manager.sync();
  // While the upload waits: another photo and two taps at once.
  const second = await manager.addPhoto(fs.readFileSync(path.join(PHOTOS, 'panel.png')));
  const note = { deadline: '2027-01-10', note: '等待配件' };
  const [a, b] = await Promise.all([
    manager.capture('hazard.deadline', hazard.id, note),
    manager.capture('hazard.deadline', hazard.id, { ...note, deadline: '2027-01-11' }),
  ]);
  assert.deepEqual([a.seq, b.seq].sort(), [1, 2], 'two events, two seqs');
  release();
  await syncing;
  const queue = JSON.parse(fs.readFileSync(path.join(manager.dir, 'photos.json'), 'utf8'));
  assert.ok(queue.some((p) => p.sha256 === second), 'the photo added during the upload is queued');
  const report = await manager.sync();
  assert.equal(report.photos, 1, 'and sent by the next sync');
  const status = await manager.status();
  assert.equal(status.unsentPhotos, 0);
  assert.equal(status.pending, 0);
  const receipts = await manager.receipts();
  assert.deepEqual(Object.keys(receipts).sort(), ['1', '2']);
});

test('a photo the server refuses does not hold back the records', async () => {
  const inspector = await device('inspector');
  await inspector.sync();
  const [enterprise] = await inspector.view('enterprise');
  await assert.rejects(inspector.addPhoto(new TextEncoder().encode('这不是照片')), /JPEG/);
  // A JPEG's first bytes, then nothing a decoder can read: only the server can tell.
  const notAnImage = await inspector.addPhoto(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new TextEncoder().encode('损坏的照片'.repeat(40))]));
  await inspector.capture('hazard.report', await inspector.newId(), {
    enterprise_id: enterprise.id, level: 'general', description: '照片格式错误的隐患',
  }, { blobRefs: [notAnImage] });
  const report = await inspector.sync();
  assert.equal(report.pushed, 1, 'the record went');
  const status = await inspector.status();
  assert.deepEqual(status.refusedPhotos.map((p) => p.sha256), [notAnImage]);
  assert.equal(status.unsentPhotos, 0);
});

test('a record sent but not yet pulled stays in view, pending', async () => {
  let pulls = true;
  const inspector = await device('inspector', {
    async intercept(request, send) {
      if (!pulls && request.url.includes('/v1/sync/pull')) throw new Error('the signal went');
      return send(request);
    },
  });
  await inspector.sync();
  const [enterprise] = await inspector.view('enterprise');
  const id = await inspector.newId();
  await inspector.capture('hazard.report', id, {
    enterprise_id: enterprise.id, level: 'general', description: '推送后未拉取',
  }, { blobRefs: [await inspector.addPhoto(PHOTO)] });
  pulls = false;
  await assert.rejects(inspector.sync(), (err) => err.report && err.report.pushed === 1);
  assert.equal((await inspector.status()).pending, 0, 'acknowledged');
  const shown = (await inspector.view('hazard')).find((h) => h.id === id);
  assert.ok(shown && shown.pending, 'still shown until a pull brings it');
  pulls = true;
  await inspector.sync();
  assert.equal((await inspector.view('hazard')).find((h) => h.id === id).pending, false);
});

test('what cannot be sent exactly as signed is refused before it is logged', async () => {
  const inspector = await device('inspector');
  await assert.rejects(
    inspector.capture('hazard.report', await inspector.newId(), { enterprise_id: 'e', level: 'general', description: 'x', found: new Date() }),
    (err) => err.code === 'malformed-event',
  );
  assert.equal((await inspector.status()).pending, 0);
});

test('a server restored from an older backup gets again the events and photos it lacks', async () => {
  let restored = null;
  const sent = [];
  const inspector = await device('inspector', {
    async intercept(request, send) {
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      const answer = await send(request);
      if (restored && request.url.includes('/v1/sync/pull')) {
        const body = JSON.parse(answer.text);
        restored(body);
        return { ...answer, text: JSON.stringify(body) };
      }
      return answer;
    },
  });
  await inspector.sync();
  const [enterprise] = await inspector.view('enterprise');
  const sha = await inspector.addPhoto(PHOTO);
  const id = await inspector.newId();
  await inspector.capture('hazard.report', id, {
    enterprise_id: enterprise.id, level: 'general', description: '恢复之后',
  }, { blobRefs: [sha] });
  await inspector.capture('hazard.deadline', id, { deadline: '2026-12-30', note: '恢复之前已确认' });
  await inspector.sync();
  const acked = inspector.state.acked_seq;
  assert.ok(acked >= 2);

  // The server answers as one restored from a backup taken before those two events and the
  // photo: the first pull starts again, its chain of this device ends two events earlier, and
  // the record says the photo is missing.
  let first = true;
  restored = (body) => {
    if (first) {
      first = false;
      Object.assign(body, { reset: true, entities: [], next_cursor: '', complete: false, device_seq: acked - 2 });
      return;
    }
    for (const p of body.entities) if (p.id === id) p.missing_blobs = [sha];
  };
  const mark = sent.length;
  const report = await inspector.sync();
  assert.ok(report.serverBehind, 'the device saw the server behind');
  assert.equal(inspector.state.acked_seq, acked, 'and has its acknowledgements again');
  const after = sent.slice(mark);
  assert.ok(after.filter((r) => r === 'POST /v1/sync/push').length >= 1, `pushed again: ${after}`);
  assert.ok(after.includes(`HEAD /v1/blobs/${sha}`), `asked for the photo again: ${after}`);
  restored = null;
  await inspector.sync();
  const hazard = (await inspector.view('hazard')).find((h) => h.id === id);
  assert.equal(hazard.body.deadline, '2026-12-30');
  assert.equal(hazard.body.history.filter((s) => (s.note || '').includes('恢复之前已确认')).length, 1, 'applied once');
});

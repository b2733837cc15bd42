'use strict';
// A device (openapi/PROTOCOL.md §1–§5): log in, enrol a key, capture signed events offline, and
// sync — photos first, then the push of the outbox in `seq` order, then the pull to a checkpoint
// with its digests checked. The SDK does not judge: the local view is the server's projections
// with the device's pending events (待同步) shown beside them, and the server's verdict arrives
// with the next sync.

require('./polyfill');
const { sha256 } = require('@noble/hashes/sha2');
const { base64 } = require('@scure/base');
const { GENESIS_HASH, sign, publicKeyOf } = require('./event');
const { uuidv7 } = require('./ids');
const { BucketDigest } = require('./digest');
const { utf8, toHex, fromHex } = require('./bytes');
const { reasonWords } = require('./reasons');
const { Store } = require('./store');
const { Transport, HttpError, NetworkError } = require('./transport');

const PUSH_BATCH = 100;
/** About how many bytes of events one push carries (the server takes 1 MiB bodies). */
const PUSH_BYTES = 512 * 1024;
const PULL_LIMIT = 500;
/** Pages one pull reads at most before it gives up for this sync (the next one continues). */
const MAX_PAGES = 10000;

class SyncError extends Error {
  /** A push the server stopped for a reason retrying cannot mend (`fork`, `bad-signature` …). */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'SyncError';
    this.code = code;
  }
}

/** The entity types whose kinds are named otherwise (`issue.handle` is about a sync issue). */
const TYPE_OF_PREFIX = { issue: 'sync_issue', risk: 'risk_point', floorplan: 'floor_plan' };

/** The entity type an event kind is about. */
function typeOfKind(kind) {
  const prefix = kind.split('.')[0];
  return TYPE_OF_PREFIX[prefix] || prefix;
}

class Device {
  constructor(platform, store, transport, state, options) {
    this.platform = platform;
    this.store = store;
    this.transport = transport;
    this.state = state;
    this.chunkBytes = options.chunkBytes || 256 * 1024;
    // Every change to the device's files goes through this chain, one at a time: a capture
    // while a sync writes the photo queue, or two taps at once, never lose or share a write.
    this.chain = Promise.resolve();
    // Photos up to this size go in one request (wx.uploadFile) when the platform can; larger
    // ones by the resumable upload, which a weak network cannot make start over.
    this.oneShotBytes = options.oneShotBytes === undefined ? 256 * 1024 : options.oneShotBytes;
  }

  /**
   * Opens (or makes) the device kept in `dir`, for the server at `server`.
   * `platform`: the wx or Node adapter. Options: `chunkBytes` (photo upload chunks),
   * `oneShotBytes` (photos sent in one request when the platform has `uploadFile`; 0: never),
   * `retry`.
   */
  static async open(platform, { dir, server, chunkBytes, oneShotBytes, retry }) {
    if (typeof platform.randomBytes !== 'function') {
      throw new Error('the platform has no secure random source: no key can be made');
    }
    const store = new Store(platform.fs, dir);
    await store.init();
    let state = await store.readJson('state.json', null);
    if (!state) {
      state = { server, last_seq: 0, last_hash: GENESIS_HASH, acked_seq: 0 };
      await store.writeJson('state.json', state);
    }
    state = await store.recover(state);
    const transport = new Transport(platform, state.server || server, retry);
    transport.token = state.token || null;
    return new Device(platform, store, transport, state, { chunkBytes, oneShotBytes });
  }

  async save() {
    await this.store.writeJson('state.json', this.state);
  }

  /** Runs `work` when the changes before it are done, and none other alongside it. */
  exclusive(work) {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Takes a login answer. A device belongs to one user (its key and log are theirs): another
   * user's answer is refused — keep a device, in its own folder, per user.
   */
  async signedIn(answer) {
    if (this.state.user && this.state.user.id !== answer.user.id) {
      throw new Error(`this device is ${this.state.user.username}'s: open another, in its own folder, for ${answer.user.username}`);
    }
    this.state.token = answer.token;
    this.state.user = answer.user;
    this.transport.token = answer.token;
    await this.save();
    return answer.user;
  }

  /** Logs in with a username and password (the office's accounts; tests). */
  async login(username, password) {
    return this.signedIn(await this.transport.json('POST', '/v1/auth/login', { json: { username, password } }));
  }

  /** Logs in with the code of `wx.login()` and, the first time, the office's invitation code. */
  async loginWechat(code, invitation) {
    const json = invitation ? { code, invitation } : { code };
    return this.signedIn(await this.transport.json('POST', '/v1/auth/wechat', { json }));
  }

  /** Reads the user's roles and scopes again (after a pull's reset). */
  async refreshUser() {
    this.state.user = await this.transport.json('GET', '/v1/me');
    await this.save();
  }

  /** The signed-in user, or null. */
  get user() {
    return this.state.user || null;
  }

  /**
   * Enrols the device once: a key from 32 bytes of the platform's secure random source, kept
   * before it is sent, so a lost answer is retried with the same key (and gets the same id).
   */
  async enrol(name) {
    if (this.state.device_id) return this.state.device_id;
    if (!this.state.secret) {
      const seed = await this.platform.randomBytes(32);
      if (!(seed instanceof Uint8Array) || seed.length !== 32 || seed.every((b) => b === 0)) {
        throw new Error('the platform gave no secure random bytes: no key can be made');
      }
      this.state.secret = toHex(seed);
      await this.save();
    }
    const device = await this.transport.json('POST', '/v1/devices', {
      json: { public_key: publicKeyOf(fromHex(this.state.secret, 32)), name },
    });
    this.state.device_id = device.id;
    await this.save();
    return device.id;
  }

  /**
   * Captures one event, offline: checks its form (a FormError, and nothing logged, when the
   * server could not read it), signs it, and appends it to the log durably. Returns it.
   */
  async capture(kind, entityId, payload, options = {}) {
    return this.exclusive(() => this.captureNow(kind, entityId, payload, options));
  }

  async captureNow(kind, entityId, payload, { blobRefs = [], templateRef = null, baseRev = null }) {
    if (!this.state.device_id) throw new Error('enrol the device first');
    const now = this.platform.now();
    const body = {
      v: 1,
      device_id: this.state.device_id,
      seq: this.state.last_seq + 1,
      id: uuidv7(now, await this.platform.randomBytes(10)),
      prev_hash: this.state.last_hash,
      kind,
      entity_id: entityId,
      payload,
      blob_refs: blobRefs,
      template_ref: templateRef,
      base_rev: baseRev,
      captured: { wall_ms: now, tz_offset_min: this.platform.tzOffsetMin() },
    };
    const event = sign(body, fromHex(this.state.secret, 32));
    await this.store.append(event, this.state);
    return event;
  }

  /** A new id for a record this device creates (UUIDv7). */
  async newId() {
    return uuidv7(this.platform.now(), await this.platform.randomBytes(10));
  }

  /**
   * Keeps a photo's bytes with the device and queues it for upload; its sha256 (for
   * `blobRefs`). Only JPEG, PNG and WebP are taken: a record cannot be changed once logged, and
   * a photo the server cannot take would leave it incomplete for good.
   */
  async addPhoto(bytes) {
    if (!isImage(bytes)) throw new Error('照片须为 JPEG、PNG 或 WebP 格式（the photo is not JPEG, PNG or WebP）');
    const sha = toHex(sha256(bytes));
    return this.exclusive(async () => {
      const photos = await this.store.readJson('photos.json', []);
      if (!photos.some((p) => p.sha256 === sha)) {
        await this.store.writeBytes(`photos/${sha}`, bytes);
        photos.push({ sha256: sha, size: bytes.length, state: 'queued', location: null, offset: 0 });
        await this.store.writeJson('photos.json', photos);
      }
      return sha;
    });
  }

  /** Changes one photo's entry in the queue, read afresh, under the lock. */
  async updatePhoto(sha, change) {
    return this.exclusive(async () => {
      const photos = await this.store.readJson('photos.json', []);
      const entry = photos.find((p) => p.sha256 === sha);
      if (!entry) return;
      change(entry);
      await this.store.writeJson('photos.json', photos);
      if (entry.state === 'sent') await this.store.fs.remove(this.store.path(`photos/${sha}`));
    });
  }

  /** The events not yet acknowledged, in `seq` order. */
  async outbox() {
    const events = [];
    for (let seq = this.state.acked_seq + 1; seq <= this.state.last_seq; seq++) {
      events.push(await this.store.event(seq));
    }
    return events;
  }

  /** Photos first, then the push, then the pull. */
  /**
   * Photos first, then the push, then the pull. A stage that fails does not stop the next:
   * records go out even while a photo cannot, and the pull runs even after a refused push.
   * The first failure is thrown once all have run (the report is on it as `report`).
   */
  async sync() {
    // One sync at a time: a second call while one runs gets the same outcome.
    if (!this.running) {
      this.running = this.syncNow().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  async syncNow() {
    const report = { photos: 0, pushed: 0, notApplied: 0, pulled: 0, reset: false, errors: [] };
    for (const stage of [() => this.uploadPhotos(report), () => this.push(report), () => this.pull(report)]) {
      try {
        await stage();
      } catch (err) {
        report.errors.push(err);
      }
    }
    if (report.errors.length === 0 && report.serverBehind) {
      // The server was restored from an older backup: the pull set the acknowledged seq back to
      // where the server's chain of this device ends; push the rest again, and pull once more.
      try {
        await this.push(report);
        await this.pull(report);
      } catch (err) {
        report.errors.push(err);
      }
    }
    if (report.errors.length === 0 && report.lacking && report.lacking.size > 0) {
      // Photos this device sent that the server no longer holds: queued and sent again.
      let again = 0;
      await this.exclusive(async () => {
        const photos = await this.store.readJson('photos.json', []);
        for (const photo of photos) {
          if (photo.state === 'sent' && report.lacking.has(photo.sha256)) {
            photo.state = 'queued';
            photo.location = null;
            again += 1;
          }
        }
        if (again > 0) await this.store.writeJson('photos.json', photos);
      });
      if (again > 0) {
        try {
          await this.uploadPhotos(report);
        } catch (err) {
          report.errors.push(err);
        }
      }
    }
    if (report.errors.length > 0) {
      const [first] = report.errors;
      first.report = report;
      throw first;
    }
    await this.exclusive(async () => {
      this.state.last_sync_ms = this.platform.now();
      await this.save();
    });
    return report;
  }

  /** Sends every queued photo; one that fails for good is marked, and the others still go. */
  async uploadPhotos(report) {
    const photos = await this.store.readJson('photos.json', []);
    let failure = null;
    for (const photo of photos) {
      if (photo.state !== 'queued') continue;
      try {
        await this.uploadPhoto(photo);
        if (photo.state === 'sent') report.photos += 1;
      } catch (err) {
        if (!failure) failure = err;
        if (err instanceof NetworkError) break;
      }
    }
    if (failure) throw failure;
  }

  async keepPhotos(photo) {
    const { sha256: sha, ...fields } = photo;
    await this.updatePhoto(sha, (entry) => Object.assign(entry, fields));
  }

  /** Sends one photo: in one request when small, else by the resumable upload (tus). */
  async uploadPhoto(photo) {
    const t = this.transport;
    const done = async (state, code) => {
      photo.state = state;
      if (code) photo.code = code;
      photo.location = null;
      await this.keepPhotos(photo);
    };
    try {
      await t.call('HEAD', `/v1/blobs/${photo.sha256}`);
      return done('sent');
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404)) throw err;
    }
    if (typeof this.platform.uploadFile === 'function' && photo.size <= this.oneShotBytes && !photo.location) {
      try {
        await t.call('POST', '/v1/blobs', {
          file: { filePath: this.store.path(`photos/${photo.sha256}`), name: 'file', formData: { sha256: photo.sha256 } },
        });
        return done('sent');
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        if (err.status === 415 || err.status === 422 || err.status === 413) return done('refused', err.code);
        throw err;
      }
    }
    for (let round = 0; round < 4; round++) {
      if (photo.location) {
        try {
          const head = await t.call('HEAD', photo.location);
          photo.offset = Number(head.headers['upload-offset']);
        } catch (err) {
          if (!(err instanceof HttpError && (err.status === 404 || err.status === 410))) throw err;
          photo.location = null;
        }
      }
      if (!photo.location) {
        let made;
        try {
          made = await t.call('POST', '/v1/uploads', {
          headers: {
            'tus-resumable': '1.0.0',
            'upload-length': String(photo.size),
            'upload-metadata': `sha256 ${base64.encode(utf8(photo.sha256))}`,
          },
        });
        } catch (err) {
          if (err instanceof HttpError && (err.status === 413 || err.status === 415)) return done('refused', err.code);
          throw err;
        }
        if (made.status === 200) return done('sent');
        photo.location = made.headers.location;
        photo.offset = 0;
        await this.keepPhotos(photo);
      }
      while (photo.offset < photo.size) {
        const length = Math.min(this.chunkBytes, photo.size - photo.offset);
        const chunk = await this.store.readBytes(`photos/${photo.sha256}`, photo.offset, length);
        let answer;
        try {
          answer = await t.call('POST', photo.location, {
            headers: {
              'x-http-method-override': 'PATCH',
              'tus-resumable': '1.0.0',
              'content-type': 'application/offset+octet-stream',
              'upload-offset': String(photo.offset),
              'upload-checksum': `sha256 ${base64.encode(sha256(chunk))}`,
            },
            body: chunk,
          });
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          if (err.status === 409 || err.status === 460) break; // HEAD again, go on from there
          if (err.status === 404 || err.status === 410) {
            photo.location = null;
            break;
          }
          if (err.status === 415 || err.status === 422 || err.status === 413) return done('refused', err.code);
          throw err;
        }
        if (answer.status === 200) return done('sent');
        photo.offset = Number(answer.headers['upload-offset']);
        await this.keepPhotos(photo);
      }
    }
    throw new SyncError('upload-stuck', `the photo ${photo.sha256.slice(0, 12)} could not be sent; the next sync tries again`);
  }

  /** Pushes the outbox in batches, in `seq` order; keeps every receipt. */
  async push(report) {
    const receipts = await this.store.readJson('receipts.json', {});
    let most = PUSH_BATCH;
    for (let guard = 0; guard < 100000 && this.state.acked_seq < this.state.last_seq; guard++) {
      // At most `most` events and about PUSH_BYTES of them: well inside the server's body limit.
      const events = [];
      let bytes = 0;
      const last = Math.min(this.state.last_seq, this.state.acked_seq + most);
      for (let seq = this.state.acked_seq + 1; seq <= last; seq++) {
        const event = await this.store.event(seq);
        bytes += JSON.stringify(event).length * 3;
        if (events.length > 0 && bytes > PUSH_BYTES) break;
        events.push(event);
      }
      let answer;
      try {
        answer = await this.transport.json('POST', '/v1/sync/push', {
          json: { device_id: this.state.device_id, device_clock_ms: this.platform.now(), events },
        });
      } catch (err) {
        if (err instanceof HttpError && err.status === 413 && events.length > 1) {
          most = Math.max(1, Math.floor(events.length / 2));
          continue;
        }
        throw err;
      }
      for (const r of answer.receipts) {
        receipts[r.seq] = r;
        if (r.seq > this.state.acked_seq) this.state.acked_seq = r.seq;
        report.pushed += 1;
        if (r.verdict !== 'applied') report.notApplied += 1;
      }
      await this.store.writeJson('receipts.json', receipts);
      await this.save();
      const refused = answer.refused;
      if (refused) {
        if (refused.code !== 'gap') throw new SyncError(refused.code, refused.message);
        // The server lacks earlier events (restored from a backup): send them again.
        this.state.acked_seq = refused.expected_seq - 1;
        await this.save();
      }
    }
  }

  /** Pulls to a checkpoint: pages are staged, then applied together and their digests checked. */
  async pull(report) {
    // Events acknowledged before this pull began are in what it brings, once it completes.
    let acknowledged = this.state.acked_seq;
    let replica = await this.store.readJson('replica.json', { cursor: null, entities: {} });
    let staged = await this.store.readJson('staged.json', null)
      || { cursor: replica.cursor, entities: {}, reset: false };
    let restarted = false;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = [`limit=${PULL_LIMIT}`, `device_id=${this.state.device_id}`, `receipts_after=${this.state.acked_seq}`];
      if (staged.cursor) query.push(`cursor=${encodeURIComponent(staged.cursor)}`);
      const answer = await this.transport.json('GET', `/v1/sync/pull?${query.join('&')}`);
      if (answer.reset) {
        staged = { cursor: null, entities: {}, reset: true };
        report.reset = true;
        await this.refreshUser();
      }
      for (const p of answer.entities) {
        staged.entities[p.id] = p;
        for (const sha of p.missing_blobs || []) {
          if (!report.lacking) report.lacking = new Set();
          report.lacking.add(sha);
        }
      }
      if (answer.device_seq != null && answer.device_seq < this.state.acked_seq && !report.serverBehind) {
        // The server holds fewer of this device's events than it acknowledged: it was restored
        // from an older backup. Those after device_seq go again at the next push.
        await this.exclusive(async () => {
          this.state.acked_seq = answer.device_seq;
          this.state.pulled_seq = Math.min(this.state.pulled_seq || 0, answer.device_seq);
          await this.save();
        });
        acknowledged = Math.min(acknowledged, answer.device_seq);
        report.serverBehind = true;
      }
      staged.cursor = answer.next_cursor;
      report.pulled += answer.entities.length;
      await this.keepReceipts(answer.receipts || []);
      if (!answer.complete) {
        await this.store.writeJson('staged.json', staged);
        continue;
      }
      const entities = staged.reset ? staged.entities : { ...replica.entities, ...staged.entities };
      const agree = digestsAgree(entities, answer.checkpoint);
      if (!agree && !restarted) {
        // The replica drifted from the server: drop it and pull again from the start.
        restarted = true;
        replica = { cursor: null, entities: {} };
        staged = { cursor: null, entities: {}, reset: true };
        continue;
      }
      replica = { cursor: staged.cursor, entities };
      await this.store.writeJson('replica.json', replica);
      await this.store.writeJson('staged.json', null);
      await this.exclusive(async () => {
        this.state.pulled_seq = Math.max(this.state.pulled_seq || 0, acknowledged);
        await this.save();
      });
      if (!agree) {
        // Pulled whole from the start and still not the server's digest: the records shown are
        // the server's as sent, but this device and the server disagree on what they hold.
        throw new SyncError('digest-mismatch', 'the records pulled from the start still do not match the server\'s checkpoint digests; they are shown as sent — report this device to the office');
      }
      return;
    }
  }

  async keepReceipts(list) {
    if (list.length === 0) return;
    const receipts = await this.store.readJson('receipts.json', {});
    for (const r of list) receipts[r.seq] = r;
    await this.store.writeJson('receipts.json', receipts);
  }

  /** The server's projections as of the last checkpoint, by id. */
  async replica() {
    return (await this.store.readJson('replica.json', { entities: {} })).entities;
  }

  /**
   * The local view: the server's records (not deleted, sync issues aside), each with
   * `pending: true` and its `pendingEvents` when the device has events about it not yet
   * acknowledged; records the device created and has not sent yet appear with their payload as
   * the body. Optionally of one type.
   */
  async view(type) {
    const entities = await this.replica();
    const shown = {};
    for (const p of Object.values(entities)) {
      if (!p.deleted && p.entity_type !== 'sync_issue') shown[p.id] = { ...p, pending: false, pendingEvents: [] };
    }
    // Events the server took but whose result no pull has brought yet stay in view, pending,
    // so a record does not vanish between a push and a pull that fails.
    // Only those acknowledged since the last complete pull began: the rest it brought.
    const receipts = await this.receipts();
    const waiting = [];
    for (let seq = (this.state.pulled_seq || 0) + 1; seq <= this.state.acked_seq; seq++) {
      const r = receipts[seq];
      if (!r || r.verdict !== 'applied') continue;
      const event = await this.store.event(seq);
      const held = event && entities[event.entity_id];
      if (event && (!held || held.rev < r.rev)) waiting.push(event);
    }
    for (const e of waiting.concat(await this.outbox())) {
      const entry = shown[e.entity_id]
        || (shown[e.entity_id] = { id: e.entity_id, entity_type: typeOfKind(e.kind), body: e.payload, pending: true, pendingEvents: [] });
      entry.pending = true;
      entry.pendingEvents.push({ seq: e.seq, kind: e.kind, payload: e.payload });
    }
    return Object.values(shown)
      .filter((p) => !type || p.entity_type === type)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /**
   * What waits: events not yet acknowledged, photos not yet sent (and those the server refused),
   * and the sync issues (conflicts, quarantined events) not yet handled by the office, each with
   * its reason in words.
   */
  async status() {
    const photos = await this.store.readJson('photos.json', []);
    const entities = await this.replica();
    const issues = Object.values(entities).filter((p) => p.entity_type === 'sync_issue' && !p.deleted);
    const describe = (p) => ({
      id: p.id,
      verdict: p.body.verdict,
      code: p.body.reason && p.body.reason.code,
      words: reasonWords(p.body.reason && p.body.reason.code),
      message: p.body.reason && p.body.reason.message,
      kind: p.body.event && p.body.event.kind,
      about: p.body.about_entity,
      handled: p.body.handled || null,
    });
    return {
      pending: this.state.last_seq - this.state.acked_seq,
      unsentPhotos: photos.filter((p) => p.state === 'queued').length,
      refusedPhotos: photos.filter((p) => p.state === 'refused').map((p) => ({ sha256: p.sha256, code: p.code })),
      conflicts: issues.filter((p) => !p.body.handled).map(describe),
      handled: issues.filter((p) => p.body.handled).map(describe),
      lastSyncMs: this.state.last_sync_ms || null,
    };
  }

  /** The receipts the server gave, by seq. */
  async receipts() {
    return this.store.readJson('receipts.json', {});
  }
}

/** Whether `bytes` begin as a JPEG, PNG or WebP file does. */
function isImage(b) {
  const at = (offset, values) => values.every((v, i) => b[offset + i] === v);
  return (b.length > 3 && at(0, [0xff, 0xd8, 0xff]))
    || (b.length > 8 && at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    || (b.length > 12 && at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50]));
}

/** Whether the replica's count and digest agree with the checkpoint's, bucket by bucket. */
function digestsAgree(entities, checkpoint) {
  for (const { bucket, count, digest } of checkpoint || []) {
    const mine = new BucketDigest();
    for (const p of Object.values(entities)) {
      if (p.buckets && p.buckets.includes(bucket)) mine.add(p.id, p.rev);
    }
    if (mine.count !== count || mine.hex() !== digest) return false;
  }
  return true;
}

module.exports = { Device, SyncError, typeOfKind };

'use strict';
// The device's files (no Storage: the mini-program's 10 MB limit would not hold a log). Every
// file is written whole and durably — written under a temporary name, then renamed over the old
// one — so a crash leaves the old version or the new, never half of one.
//
//   state.json     who is logged in, the device, its key, the log's head, what was acknowledged
//   log/<seq>.json one signed event per file, never rewritten
//   receipts.json  the server's receipts, by seq
//   replica.json   the server's projections as of the last checkpoint, and the cursor
//   staged.json    pull pages kept until their checkpoint arrives
//   photos.json    the photos to send; photos/<sha256> their bytes

const PAD = 16;

class Store {
  /** `fs`: the platform's files; `dir`: this device's folder. */
  constructor(fs, dir) {
    this.fs = fs;
    this.dir = dir.replace(/\/$/, '');
  }

  path(name) {
    return `${this.dir}/${name}`;
  }

  async init() {
    await this.fs.mkdir(this.dir);
    await this.fs.mkdir(this.path('log'));
    await this.fs.mkdir(this.path('photos'));
  }

  async readJson(name, fallback) {
    const text = await this.fs.read(this.path(name));
    return text == null ? fallback : JSON.parse(text);
  }

  async writeJson(name, value) {
    await this.fs.write(this.path(name), JSON.stringify(value));
  }

  logName(seq) {
    return `log/${String(seq).padStart(PAD, '0')}.json`;
  }

  /** The logged event `seq`, or null. */
  async event(seq) {
    return this.readJson(this.logName(seq), null);
  }

  /** Appends a signed event: its file first, then the head in state.json (see `recover`). */
  async append(event, state) {
    await this.writeJson(this.logName(event.seq), event);
    state.last_seq = event.seq;
    state.last_hash = event.hash;
    await this.writeJson('state.json', state);
  }

  /**
   * After a crash between an event's file and the head that names it, the head is behind by
   * whole events whose files are there and chain on: takes them. A file that does not chain on
   * (a half-written temporary is never renamed, so there is none) is left alone.
   */
  async recover(state) {
    let moved = false;
    for (;;) {
      const next = await this.event(state.last_seq + 1);
      if (!next || next.prev_hash !== state.last_hash) break;
      state.last_seq = next.seq;
      state.last_hash = next.hash;
      moved = true;
    }
    if (moved) await this.writeJson('state.json', state);
    return state;
  }

  async writeBytes(name, bytes) {
    await this.fs.write(this.path(name), bytes);
  }

  async readBytes(name, position, length) {
    return this.fs.readBytes(this.path(name), position, length);
  }
}

module.exports = { Store };

'use strict';
// The Node.js platform adapter (tests and tools; the mini-program uses src/platform/wx.js).
// `network`: {offline(): bool, intercept(request, send): Promise<answer>} lets a test cut the
// network or lose an answer.

const fsp = require('node:fs/promises');
const crypto = require('node:crypto');
const path = require('node:path');

let writes = 0;

function files() {
  return {
    async read(file) {
      try {
        return await fsp.readFile(file, 'utf8');
      } catch (err) {
        if (err.code === 'ENOENT') return null;
        throw err;
      }
    },
    async readBytes(file, position = 0, length) {
      const handle = await fsp.open(file, 'r');
      try {
        const size = length === undefined ? (await handle.stat()).size - position : length;
        const out = new Uint8Array(size);
        const { bytesRead } = await handle.read(out, 0, size, position);
        return out.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
    /** Writes whole and durably: a temporary file, flushed, renamed over the old one. */
    async write(file, data) {
      writes += 1;
      const tmp = `${file}.tmp-${process.pid}-${writes}`;
      const handle = await fsp.open(tmp, 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(tmp, file);
    },
    async mkdir(dir) {
      await fsp.mkdir(dir, { recursive: true });
    },
    async remove(file) {
      await fsp.rm(file, { force: true });
    },
  };
}

function nodePlatform(network = {}) {
  const send = async ({ method, url, headers, body }) => {
    const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(60000) });
    const answer = { status: res.status, headers: {}, text: await res.text() };
    res.headers.forEach((value, name) => {
      answer.headers[name.toLowerCase()] = value;
    });
    return answer;
  };
  const upload = async ({ url, headers, filePath, name, formData }) => {
    const form = new FormData();
    for (const [key, value] of Object.entries(formData || {})) form.append(key, value);
    form.append(name, new Blob([await fsp.readFile(filePath)]), path.basename(filePath));
    return send({ method: 'POST', url, headers, body: form });
  };
  return {
    fs: files(),
    async uploadFile(request) {
      if (network.offline && network.offline()) throw new Error('no network');
      if (network.interceptUpload) return network.interceptUpload(request, upload);
      return upload(request);
    },
    async request(request) {
      if (network.offline && network.offline()) throw new Error('no network');
      if (network.intercept) return network.intercept(request, send);
      return send(request);
    },
    async randomBytes(n) {
      return new Uint8Array(crypto.randomBytes(n));
    },
    now: () => Date.now(),
    tzOffsetMin: () => -new Date().getTimezoneOffset(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    join: path.join,
  };
}

module.exports = { nodePlatform };

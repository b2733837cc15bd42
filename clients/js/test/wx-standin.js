'use strict';
// A stand-in for the `wx` global of the WeChat mini-program runtime, for tests in Node: the file
// system manager, wx.request, wx.getRandomValues and the network-status events, with the same
// call shapes (success/fail callbacks, errMsg) as WeChat documents them. `network.online`
// switches the network; switching it fires the wx.onNetworkStatusChange listeners.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

function answer(options, fn) {
  try {
    const res = fn();
    if (options.success) options.success(res);
  } catch (err) {
    if (options.fail) options.fail({ errMsg: `${err.code === 'ENOENT' ? 'fail no such file or directory' : 'fail'} ${err.message}` });
  }
}

function standIn() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'anjian-wx-'));
  const listeners = [];
  // `loginCode` says what wx.login gives (the fake WeChat takes `user:<name>[:n]`).
  const network = { online: true, requests: 0, uploads: 0, maxInFlight: 0, inFlight: 0, loginCode: () => 'standin-code' };
  const wx = {
    env: { USER_DATA_PATH: root },
    getFileSystemManager() {
      return {
        readFile(o) {
          answer(o, () => {
            const buf = fs.readFileSync(o.filePath);
            if (o.encoding === 'utf8') return { data: buf.toString('utf8') };
            const start = o.position || 0;
            const end = o.length === undefined ? buf.length : start + o.length;
            const part = buf.subarray(start, end);
            return { data: part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) };
          });
        },
        writeFile(o) {
          answer(o, () => fs.writeFileSync(o.filePath, typeof o.data === 'string' ? o.data : Buffer.from(o.data)));
        },
        rename(o) {
          answer(o, () => fs.renameSync(o.oldPath, o.newPath));
        },
        mkdir(o) {
          answer(o, () => {
            if (fs.existsSync(o.dirPath)) throw new Error('fail file already exist');
            fs.mkdirSync(o.dirPath, { recursive: !!o.recursive });
          });
        },
        unlink(o) {
          answer(o, () => fs.unlinkSync(o.filePath));
        },
      };
    },
    request(o) {
      if (!network.online) {
        setTimeout(() => o.fail && o.fail({ errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' }), 1);
        return;
      }
      network.requests += 1;
      network.inFlight += 1;
      network.maxInFlight = Math.max(network.maxInFlight, network.inFlight);
      const body = o.data instanceof ArrayBuffer ? Buffer.from(o.data) : o.data;
      fetch(o.url, { method: o.method || 'GET', headers: o.header, body, signal: AbortSignal.timeout(o.timeout || 60000) })
        .then(async (res) => {
          const header = {};
          // WeChat gives header names as the server wrote them; mixed case here on purpose.
          res.headers.forEach((value, name) => {
            header[name.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())] = value;
          });
          const data = await res.text();
          network.inFlight -= 1;
          if (o.success) o.success({ statusCode: res.status, header, data });
        })
        .catch((err) => {
          network.inFlight -= 1;
          if (o.fail) o.fail({ errMsg: `request:fail ${err.message}` });
        });
    },
    uploadFile(o) {
      if (!network.online) {
        setTimeout(() => o.fail && o.fail({ errMsg: 'uploadFile:fail net::ERR_INTERNET_DISCONNECTED' }), 1);
        return;
      }
      network.uploads += 1;
      const form = new FormData();
      for (const [key, value] of Object.entries(o.formData || {})) form.append(key, value);
      form.append(o.name, new Blob([fs.readFileSync(o.filePath)]), path.basename(o.filePath));
      fetch(o.url, { method: 'POST', headers: o.header, body: form })
        .then(async (res) => o.success && o.success({ statusCode: res.status, data: await res.text() }))
        .catch((err) => o.fail && o.fail({ errMsg: `uploadFile:fail ${err.message}` }));
    },
    getRandomValues(o) {
      answer(o, () => ({ randomValues: crypto.randomBytes(o.length).buffer }));
    },
    getNetworkType(o) {
      answer(o, () => ({ networkType: network.online ? 'wifi' : 'none' }));
    },
    onNetworkStatusChange(listener) {
      listeners.push(listener);
    },
    login(o) {
      answer(o, () => ({ code: network.loginCode() }));
    },
  };
  network.set = (online) => {
    network.online = online;
    for (const listener of listeners) listener({ isConnected: online, networkType: online ? 'wifi' : 'none' });
  };
  return { wx, network, root };
}

module.exports = { standIn };

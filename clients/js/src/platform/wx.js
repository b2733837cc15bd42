'use strict';
// The WeChat mini-program platform adapter: files through wx.getFileSystemManager() under
// wx.env.USER_DATA_PATH, requests through wx.request (text answers, at most 60 s), random bytes
// from wx.getRandomValues. `wxApi` is the global `wx` (a stand-in in tests).

/** Calls a wx API that takes success/fail callbacks, as a promise. */
function call(fn, options) {
  return new Promise((resolve, reject) => {
    fn({
      ...options,
      success: resolve,
      fail: (err) => reject(new Error((err && err.errMsg) || 'wx call failed')),
    });
  });
}

function toArrayBuffer(bytes) {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

function wxPlatform(wxApi) {
  const fsm = wxApi.getFileSystemManager();
  let writes = 0;
  const missing = (err) => /no such file|not exist/i.test(err.message);
  const fs = {
    async read(file) {
      try {
        return (await call(fsm.readFile.bind(fsm), { filePath: file, encoding: 'utf8' })).data;
      } catch (err) {
        if (missing(err)) return null;
        throw err;
      }
    },
    async readBytes(file, position = 0, length) {
      const options = { filePath: file, position };
      if (length !== undefined) options.length = length;
      const { data } = await call(fsm.readFile.bind(fsm), options);
      return new Uint8Array(data);
    },
    /** Writes whole: a temporary file, then renamed over the old one. */
    async write(file, data) {
      writes += 1;
      const tmp = `${file}.tmp-${writes}`;
      const options = typeof data === 'string'
        ? { filePath: tmp, data, encoding: 'utf8' }
        : { filePath: tmp, data: toArrayBuffer(data) };
      await call(fsm.writeFile.bind(fsm), options);
      await call(fsm.rename.bind(fsm), { oldPath: tmp, newPath: file });
    },
    async mkdir(dir) {
      try {
        await call(fsm.mkdir.bind(fsm), { dirPath: dir, recursive: true });
      } catch (err) {
        if (!/exist/i.test(err.message)) throw err;
      }
    },
    async remove(file) {
      try {
        await call(fsm.unlink.bind(fsm), { filePath: file });
      } catch (err) {
        if (!missing(err)) throw err;
      }
    },
  };
  return {
    fs,
    root: `${wxApi.env.USER_DATA_PATH}/anjian`,
    async request({ method, url, headers, body }) {
      const res = await call(wxApi.request, {
        url,
        method,
        header: headers,
        data: body instanceof Uint8Array ? toArrayBuffer(body) : body,
        dataType: 'text',
        responseType: 'text',
        timeout: 60000,
      });
      const lower = {};
      for (const [name, value] of Object.entries(res.header || {})) lower[name.toLowerCase()] = value;
      return { status: res.statusCode, headers: lower, text: typeof res.data === 'string' ? res.data : '' };
    },
    /** A file in one multipart POST (wx.uploadFile): the answer as `request` gives it. */
    async uploadFile({ url, headers, filePath, name, formData }) {
      const res = await call(wxApi.uploadFile, { url, filePath, name, formData, header: headers, timeout: 60000 });
      return { status: res.statusCode, headers: {}, text: typeof res.data === 'string' ? res.data : '' };
    },
    /** 32 bytes for a key must come from the platform's secure source; without it, no key. */
    async randomBytes(n) {
      if (typeof wxApi.getRandomValues !== 'function') {
        throw new Error('this WeChat has no secure random source (wx.getRandomValues): update WeChat');
      }
      const { randomValues } = await call(wxApi.getRandomValues, { length: n });
      const bytes = new Uint8Array(randomValues);
      if (bytes.length !== n) throw new Error('wx.getRandomValues gave too few bytes');
      return bytes;
    },
    now: () => Date.now(),
    tzOffsetMin: () => -new Date().getTimezoneOffset(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

module.exports = { wxPlatform };

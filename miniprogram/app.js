// 安检小程序: one device for the whole app; sync runs by itself when the network returns and
// after each capture, and never stands in the way of a capture.
const config = require('./config');
const { openDevice, autoSync } = require('./logic/app');

const LAST_USER = 'anjian-user';

App({
  globalData: { server: config.server, device: null, sync: null, lastReport: null, lastError: null },

  onLaunch() {
    // The last signed-in user's device, if any; otherwise the pages send people to sign in.
    const last = wx.getStorageSync(LAST_USER);
    this.ready = last ? openDevice(wx, config.server, last).then((d) => this.useDevice(d)) : Promise.resolve(null);
  },

  /** Makes `device` the app's (after a sign-in) and keeps it synced. */
  useDevice(device) {
    this.globalData.device = device;
    this.globalData.sync = autoSync(wx, device, (report, err) => {
      this.globalData.lastReport = report;
      this.globalData.lastError = err ? err.message : null;
      if (err && err.status === 401) this.globalData.signInAgain = true;
    });
    wx.setStorageSync(LAST_USER, device.user.id);
    this.ready = Promise.resolve(device);
    return device;
  },

  /** Back in the foreground: sync (the network may have returned while away). */
  onShow() {
    if (this.ready) this.ready.then(() => this.syncSoon());
  },

  /** The device, once open (null before anyone signed in). */
  device() {
    return this.ready;
  },

  /** Asks for a sync in the background (the caller does not wait). */
  syncSoon() {
    if (this.globalData.sync) this.globalData.sync.request();
  },
});

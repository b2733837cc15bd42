// 安检小程序: one device for the whole app; sync runs by itself when the network returns and
// after each capture, and never stands in the way of a capture.
const config = require('./config');
const { openDevice, autoSync } = require('./logic/app');

App({
  globalData: { device: null, sync: null, lastReport: null, lastError: null },

  onLaunch() {
    this.ready = openDevice(wx, config.server).then((device) => {
      this.globalData.device = device;
      this.globalData.sync = autoSync(wx, device, (report, err) => {
        this.globalData.lastReport = report;
        this.globalData.lastError = err ? err.message : null;
      });
      return device;
    });
  },

  /** The device, once open. */
  device() {
    return this.ready;
  },

  /** Asks for a sync in the background (the caller does not wait). */
  syncSoon() {
    if (this.globalData.sync) this.globalData.sync.request();
  },
});

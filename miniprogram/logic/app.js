// The device the whole mini-program shares, and syncing by itself: when the network returns
// (wx.onNetworkStatusChange), after each capture when online, and never in the way of a capture.

const { Device } = require('../sdk/index');
const { wxPlatform } = require('../sdk/platform/wx');

/** Opens this phone's device (its folder under wx.env.USER_DATA_PATH). */
async function openDevice(wx, server) {
  const platform = wxPlatform(wx);
  return Device.open(platform, { dir: platform.root, server });
}

/**
 * Keeps `device` synced: one sync at a time; a sync asked for while one runs runs after it.
 * `onReport(report, error)` hears every outcome. Returns {request()} to ask for a sync.
 */
function autoSync(wx, device, onReport = () => {}) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          onReport(await device.sync(), null);
        } catch (err) {
          onReport(null, err);
        }
      } while (again);
      running = null;
    })();
    return running;
  };
  wx.onNetworkStatusChange((res) => {
    if (res.isConnected) run();
  });
  return { request: run, idle: () => running || Promise.resolve() };
}

module.exports = { openDevice, autoSync, wxPlatform };

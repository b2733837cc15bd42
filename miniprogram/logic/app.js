// The device the whole mini-program shares, and syncing by itself: when the network returns
// (wx.onNetworkStatusChange), after each capture when online, and never in the way of a capture.

const { Device } = require('../sdk/index');
const { wxPlatform } = require('../sdk/platform/wx');

/**
 * Opens the device of user `userId` on this phone: each user has their own folder under
 * wx.env.USER_DATA_PATH — their key, log and records — so a phone shared by two people never
 * sends one's records as the other's.
 */
async function openDevice(wx, server, userId) {
  if (!userId) throw new Error('a device is opened for a signed-in user');
  const platform = wxPlatform(wx);
  return Device.open(platform, { dir: `${platform.root}/users/${userId}`, server });
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

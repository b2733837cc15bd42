// Signing in (登录): wx.login gives a one-time code; the first time, the town safety office's
// invitation code (邀请码) binds this WeChat to the user the office made. The answer names the
// user; their own device on this phone is opened (made the first time) and enrols its key once.

const { Transport } = require('../sdk/index');
const { wxPlatform } = require('../sdk/platform/wx');
const { openDevice } = require('./app');

function wxLogin(wx) {
  return new Promise((resolve, reject) => {
    wx.login({ success: (res) => resolve(res.code), fail: (err) => reject(new Error(err.errMsg || '微信登录失败')) });
  });
}

/** The signed-in user's device, enrolled, from a login answer. */
async function deviceFor(wx, server, answer) {
  const device = await openDevice(wx, server, answer.user.id);
  await device.signedIn(answer);
  await device.enrol('微信小程序');
  return device;
}

/** Signs in with WeChat (and the invitation code, the first time): the user's device. */
async function signIn(wx, server, invitation) {
  const code = await wxLogin(wx);
  const json = invitation && invitation.trim() ? { code, invitation: invitation.trim() } : { code };
  const answer = await new Transport(wxPlatform(wx), server).json('POST', '/v1/auth/wechat', { json });
  return deviceFor(wx, server, answer);
}

/** Signs in with a username and password (development against the demo town). */
async function signInWithPassword(wx, server, username, password) {
  const answer = await new Transport(wxPlatform(wx), server).json('POST', '/v1/auth/login', {
    json: { username: username.trim(), password },
  });
  return deviceFor(wx, server, answer);
}

/** The roles of a user in Chinese, for the home page. */
const ROLE_NAMES = {
  admin: '安委办管理员',
  leader: '镇领导',
  inspector: '网格员',
  enterprise_manager: '企业安全员',
  team_lead: '班组长',
  publicist: '宣传员',
  reviewer: '审核员',
};

function roleNames(user) {
  return (user && user.roles ? user.roles : []).map((r) => ROLE_NAMES[r] || r);
}

module.exports = { signIn, signInWithPassword, roleNames, ROLE_NAMES };

// Signing in (登录): wx.login gives a one-time code; the first time, the town safety office's
// invitation code (邀请码) binds this WeChat to the user the office made. Then the phone enrols
// its key once.

function wxLogin(wx) {
  return new Promise((resolve, reject) => {
    wx.login({ success: (res) => resolve(res.code), fail: (err) => reject(new Error(err.errMsg || '微信登录失败')) });
  });
}

/** Signs in with WeChat (and the invitation code, the first time) and enrols the phone. */
async function signIn(wx, device, invitation) {
  const code = await wxLogin(wx);
  const user = await device.loginWechat(code, invitation ? invitation.trim() : undefined);
  await device.enrol('微信小程序');
  return user;
}

/** Signs in with a username and password (development against the demo town) and enrols. */
async function signInWithPassword(device, username, password) {
  const user = await device.login(username.trim(), password);
  await device.enrol('微信小程序');
  return user;
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

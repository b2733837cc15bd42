const { signIn, signInWithPassword, roleNames } = require('../../logic/session');
const config = require('../../config');

Page({
  data: { invitation: '', busy: false, error: '', passwordSignIn: config.passwordSignIn, username: '', password: '' },

  onUsername(e) {
    this.setData({ username: e.detail.value });
  },

  onPassword(e) {
    this.setData({ password: e.detail.value });
  },

  async onPasswordSignIn() {
    this.setData({ busy: true, error: '' });
    try {
      const app = getApp();
      app.useDevice(await signInWithPassword(wx, app.globalData.server, this.data.username, this.data.password));
      app.syncSoon();
      wx.reLaunch({ url: '/pages/home/home' });
    } catch (err) {
      this.setData({ error: `登录失败：${err.message}` });
    } finally {
      this.setData({ busy: false });
    }
  },

  onInvitation(e) {
    this.setData({ invitation: e.detail.value });
  },

  async onSignIn() {
    this.setData({ busy: true, error: '' });
    try {
      const app = getApp();
      const device = app.useDevice(await signIn(wx, app.globalData.server, this.data.invitation));
      const { user } = device;
      wx.showToast({ title: `欢迎，${user.display_name || user.username}（${roleNames(user).join('、')}）`, icon: 'none' });
      app.syncSoon();
      wx.reLaunch({ url: '/pages/home/home' });
    } catch (err) {
      this.setData({ error: err.code === 'invitation-required' || /invitation/.test(err.message)
        ? '第一次登录请填写安委办给您的邀请码' : `登录失败：${err.message}` });
    } finally {
      this.setData({ busy: false });
    }
  },
});

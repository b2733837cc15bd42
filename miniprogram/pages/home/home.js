const { todayWork, chinaDate } = require('../../logic/work');
const { roleNames } = require('../../logic/session');
const { STATES } = require('../../logic/hazard');

Page({
  data: { user: null, roles: '', work: null, status: null, states: STATES },

  async onShow() {
    const app = getApp();
    const device = await app.device();
    if (!device || !device.user || app.globalData.signInAgain) {
      app.globalData.signInAgain = false;
      wx.redirectTo({ url: '/pages/login/login' });
      return;
    }
    const drafts = wx.getStorageSync('inspection-drafts') || [];
    this.setData({
      user: device.user,
      roles: roleNames(device.user).join('、'),
      work: await todayWork(device, chinaDate(Date.now()), drafts),
      status: await device.status(),
    });
  },

  onPullDownRefresh() {
    getApp().syncSoon();
    wx.stopPullDownRefresh();
  },

  open(e) {
    wx.navigateTo({ url: e.currentTarget.dataset.url });
  },
});

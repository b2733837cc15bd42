// 同步: what waits to be sent, photos waiting, and the conflicts with their reasons in words.
Page({
  data: { status: null, lastError: '' },

  async onShow() {
    const device = await getApp().device();
    this.setData({ status: await device.status(), lastError: getApp().globalData.lastError || '' });
  },

  async onSync() {
    getApp().syncSoon();
    await getApp().globalData.sync.idle();
    await this.onShow();
  },
});

// 隐患: report one found (photo required), or take the next step of one in my scope.
const hazard = require('../../logic/hazard');

function photoBytes() {
  return new Promise((resolve, reject) => {
    wx.chooseMedia({
      count: 1, mediaType: ['image'], sourceType: ['camera'], sizeType: ['compressed'],
      success: (res) => wx.getFileSystemManager().readFile({
        filePath: res.tempFiles[0].tempFilePath,
        success: (r) => resolve(new Uint8Array(r.data)),
        fail: (e) => reject(new Error(e.errMsg)),
      }),
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

Page({
  data: { item: null, steps: [], states: hazard.STATES, enterprises: [], photos: [], note: '' },

  async onLoad(query) {
    const device = await getApp().device();
    if (query.id) {
      const item = (await device.view('hazard')).find((h) => h.id === query.id);
      this.setData({ item, steps: item ? hazard.steps(item, device.user.roles) : [] });
    } else {
      this.setData({ enterprises: await device.view('enterprise') });
    }
  },

  async onPhoto() {
    const device = await getApp().device();
    const sha = await device.addPhoto(await photoBytes());
    this.setData({ photos: this.data.photos.concat([sha]) });
  },

  onNote(e) {
    this.setData({ note: e.detail.value });
  },

  async onReport(e) {
    const device = await getApp().device();
    const enterprise = this.data.enterprises[Number(e.detail.value.enterprise)];
    try {
      await hazard.report(device, {
        enterpriseId: enterprise.id,
        gridId: enterprise.body.grid_id,
        level: e.detail.value.major ? 'major' : 'general',
        description: e.detail.value.description,
        deadline: e.detail.value.deadline || undefined,
        photos: this.data.photos,
      });
      getApp().syncSoon();
      wx.showToast({ title: '已保存，将自动同步', icon: 'none' });
      wx.navigateBack();
    } catch (err) {
      wx.showModal({ title: '不能上报', content: err.message, showCancel: false });
    }
  },

  async onStep(e) {
    const device = await getApp().device();
    const to = e.currentTarget.dataset.to;
    await hazard.step(device, this.data.item, to, { note: this.data.note, plan: this.data.note, photos: this.data.photos });
    getApp().syncSoon();
    wx.showToast({ title: '已保存，将自动同步；结果以服务器为准', icon: 'none' });
    wx.navigateBack();
  },
});

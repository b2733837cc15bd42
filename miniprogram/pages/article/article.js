// 宣传稿件: write a draft with images, save as often as needed, send it for review (送审).
const article = require('../../logic/article');

Page({
  data: { item: null, title: '', body: '', images: [] },

  async onLoad(query) {
    const device = await getApp().device();
    if (query.id) {
      const item = (await device.view('article')).find((a) => a.id === query.id);
      if (item) this.setData({ item, title: item.body.title, body: item.body.body, images: item.body.images || [] });
    }
  },

  onTitle(e) {
    this.setData({ title: e.detail.value });
  },

  onBody(e) {
    this.setData({ body: e.detail.value });
  },

  async onImage() {
    const device = await getApp().device();
    const bytes = await new Promise((resolve, reject) => wx.chooseMedia({
      count: 1, mediaType: ['image'], sourceType: ['album', 'camera'],
      success: (res) => wx.getFileSystemManager().readFile({ filePath: res.tempFiles[0].tempFilePath, success: (r) => resolve(new Uint8Array(r.data)), fail: reject }),
      fail: reject,
    }));
    this.setData({ images: this.data.images.concat([await device.addPhoto(bytes)]) });
  },

  async save() {
    const device = await getApp().device();
    const id = await article.save(device, this.data.item, { title: this.data.title, body: this.data.body, images: this.data.images });
    const item = (await device.view('article')).find((a) => a.id === id);
    this.setData({ item });
    return item;
  },

  async onSave() {
    try {
      await this.save();
      getApp().syncSoon();
      wx.showToast({ title: '草稿已保存', icon: 'none' });
    } catch (err) {
      wx.showModal({ title: '不能保存', content: err.message, showCancel: false });
    }
  },

  async onSubmitForReview() {
    const device = await getApp().device();
    try {
      const item = await this.save();
      await article.submit(device, item);
      getApp().syncSoon();
      wx.showToast({ title: '已送审', icon: 'none' });
      wx.navigateBack();
    } catch (err) {
      wx.showModal({ title: '不能送审', content: err.message, showCancel: false });
    }
  },
});

// 检查: choose the enterprise and kind, go through the checklist item by item with photos from the
// camera, sign (or note the refusal), submit. The draft is kept in Storage as it grows, so an
// inspection interrupted (a call, a dead battery) is picked up again from the home page.
const inspection = require('../../logic/inspection');

const DRAFTS = 'inspection-drafts';

function choosePhoto() {
  return new Promise((resolve, reject) => {
    wx.chooseMedia({
      count: 1, mediaType: ['image'], sourceType: ['camera', 'album'], sizeType: ['compressed'],
      success: (res) => resolve(res.tempFiles[0].tempFilePath),
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

function readFile(filePath) {
  return new Promise((resolve, reject) => {
    wx.getFileSystemManager().readFile({ filePath, success: (r) => resolve(new Uint8Array(r.data)), fail: (e) => reject(new Error(e.errMsg)) });
  });
}

Page({
  data: {
    enterprises: [],
    enterpriseNames: [],
    enterprise: 0,
    kinds: inspection.KINDS,
    kindKeys: Object.keys(inspection.KINDS),
    kindNames: Object.values(inspection.KINDS),
    kind: 1,
    draft: null,
    index: -1,
    problems: [],
    inspectorsText: '',
  },

  onEnterprise(e) {
    this.setData({ enterprise: Number(e.detail.value) });
  },

  onKind(e) {
    this.setData({ kind: Number(e.detail.value) });
  },

  async onLoad(query) {
    const device = await getApp().device();
    const drafts = wx.getStorageSync(DRAFTS) || [];
    if (query.draft !== undefined && drafts[Number(query.draft)]) {
      const draft = drafts[Number(query.draft)];
      this.setData({ draft, index: Number(query.draft), inspectorsText: inspection.inspectorsText(draft.inspectors), problems: inspection.problems(draft) });
    }
    const enterprises = await device.view('enterprise');
    this.setData({ enterprises, enterpriseNames: enterprises.map((e) => e.body.name) });
  },

  keep() {
    const drafts = wx.getStorageSync(DRAFTS) || [];
    let index = this.data.index;
    if (index < 0) {
      index = drafts.length;
      drafts.push(this.data.draft);
    } else {
      drafts[index] = this.data.draft;
    }
    wx.setStorageSync(DRAFTS, drafts);
    this.setData({ index, problems: inspection.problems(this.data.draft) });
  },

  async onBegin(e) {
    const device = await getApp().device();
    const enterprise = this.data.enterprises[this.data.enterprise];
    const kind = this.data.kindKeys[this.data.kind];
    if (!enterprise) {
      wx.showModal({ title: '还不能开始', content: '没有可检查的企业：请先同步', showCancel: false });
      return;
    }
    const inspectors = inspection.parseInspectors(e.detail.value.inspectors);
    const draft = inspection.begin(enterprise, await device.view('template'), kind, inspectors, Date.now());
    this.setData({ draft, inspectorsText: inspection.inspectorsText(draft.inspectors) });
    this.keep();
  },

  onInspectors(e) {
    this.data.draft.inspectors = inspection.parseInspectors(e.detail.value);
    this.keep();
  },

  async onVerdict(e) {
    const { code, verdict } = e.currentTarget.dataset;
    const item = this.data.draft.items.find((i) => i.code === code);
    let photos = item.photos;
    if (verdict === 'hazard' && photos.length === 0) {
      const device = await getApp().device();
      photos = [await device.addPhoto(await readFile(await choosePhoto()))];
    }
    inspection.record(this.data.draft, code, verdict, item.note, photos);
    this.setData({ draft: this.data.draft });
    this.keep();
  },

  onNote(e) {
    const item = this.data.draft.items.find((i) => i.code === e.currentTarget.dataset.code);
    item.note = e.detail.value;
    this.keep();
  },

  async onSignature() {
    const device = await getApp().device();
    this.data.draft.signature = await device.addPhoto(await readFile(await choosePhoto()));
    this.setData({ draft: this.data.draft });
    this.keep();
  },

  onRefusal(e) {
    this.data.draft.refusal_note = e.detail.value;
    this.keep();
  },

  async onSubmit() {
    const device = await getApp().device();
    try {
      await inspection.submit(device, this.data.draft, Date.now());
      const drafts = wx.getStorageSync(DRAFTS) || [];
      drafts.splice(this.data.index, 1);
      wx.setStorageSync(DRAFTS, drafts);
      getApp().syncSoon();
      wx.showToast({ title: '已保存，将自动同步', icon: 'none' });
      wx.navigateBack();
    } catch (err) {
      wx.showModal({ title: '还不能提交', content: err.message, showCancel: false });
    }
  },
});

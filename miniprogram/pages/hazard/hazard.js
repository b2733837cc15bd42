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
  data: {
    item: null, steps: [], states: hazard.STATES, enterprises: [], enterpriseNames: [], enterprise: 0, deadline: '', photos: [], note: '',
    // 双报告 of a major hazard: the days it was reported to the regulator and to the workers' congress.
    needsDoubleReport: false, regulatorDay: '', congressDay: '',
  },

  onEnterprise(e) {
    this.setData({ enterprise: Number(e.detail.value) });
  },

  onDeadline(e) {
    this.setData({ deadline: e.detail.value });
  },

  async onLoad(query) {
    const device = await getApp().device();
    if (query.id) {
      const item = (await device.view('hazard')).find((h) => h.id === query.id);
      const steps = item ? hazard.steps(item, device.user.roles) : [];
      this.setData({ item, steps, needsDoubleReport: steps.some((s) => (s.needs || []).includes('double_report')) });
    } else {
      const enterprises = await device.view('enterprise');
      this.setData({ enterprises, enterpriseNames: enterprises.map((e) => e.body.name) });
    }
  },

  async onPhoto() {
    const device = await getApp().device();
    const sha = await device.addPhoto(await photoBytes());
    this.setData({ photos: this.data.photos.concat([sha]) });
  },

  onRegulatorDay(e) {
    this.setData({ regulatorDay: e.detail.value });
  },

  onCongressDay(e) {
    this.setData({ congressDay: e.detail.value });
  },

  onNote(e) {
    this.setData({ note: e.detail.value });
  },

  async onReport(e) {
    const device = await getApp().device();
    const enterprise = this.data.enterprises[this.data.enterprise];
    try {
      await hazard.report(device, {
        enterpriseId: enterprise.id,
        gridId: enterprise.body.grid_id,
        level: e.detail.value.major ? 'major' : 'general',
        description: e.detail.value.description,
        deadline: this.data.deadline || undefined,
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
    const chosen = this.data.steps.find((s) => s.to === to) || {};
    const needs = chosen.needs || [];
    if (needs.includes('note') && !this.data.note.trim()) {
      wx.showModal({ title: '请填写说明', content: '退回整改须写明原因', showCancel: false });
      return;
    }
    if (needs.includes('photos') && this.data.photos.length === 0) {
      wx.showModal({ title: '请拍照', content: '申请验收须附整改后照片', showCancel: false });
      return;
    }
    if (needs.includes('plan') && !this.data.note.trim()) {
      wx.showModal({ title: '请填写整改方案', content: '在说明栏写明整改方案', showCancel: false });
      return;
    }
    let doubleReport;
    if (needs.includes('double_report')) {
      doubleReport = hazard.doubleReport(this.data.regulatorDay, this.data.congressDay);
      if (!doubleReport) {
        wx.showModal({ title: '请填写双报告', content: '重大隐患须选择向监管部门报告和向职工（代表）大会报告的日期', showCancel: false });
        return;
      }
    }
    const text = this.data.note;
    await hazard.step(device, this.data.item, to, {
      note: needs.includes('plan') ? undefined : text,
      plan: needs.includes('plan') ? text : undefined,
      photos: this.data.photos,
      doubleReport,
    });
    getApp().syncSoon();
    wx.showToast({ title: '已保存，将自动同步；结果以服务器为准', icon: 'none' });
    wx.navigateBack();
  },
});

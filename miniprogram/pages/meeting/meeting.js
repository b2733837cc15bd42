// 班组"3个5分钟"安全交接会: attendance from the team's roster, each person's fitness and
// protective equipment, topics, handover; a photo of the meeting.
const meeting = require('../../logic/meeting');
const { chinaDate, SLOT_NAMES } = require('../../logic/work');

Page({
  data: { team: null, slot: 'pre_shift', slots: SLOT_NAMES, attendance: [], photos: [], startedAt: 0 },

  async onLoad(query) {
    const device = await getApp().device();
    const { enterprise, team: code } = device.user.scopes;
    const team = (await device.view('team')).find((t) => t.body.enterprise_id === enterprise && t.body.code === code);
    this.setData({
      team,
      slot: query.slot || 'pre_shift',
      attendance: team ? meeting.roster(await device.view('worker'), team) : [],
      startedAt: Date.now(),
    });
  },

  onToggle(e) {
    const { index, field } = e.currentTarget.dataset;
    const row = this.data.attendance[index];
    if (field === 'status') row.status = row.status === 'present' ? 'absent' : row.status === 'absent' ? 'late' : 'present';
    else row[field] = !row[field];
    this.setData({ attendance: this.data.attendance });
  },

  async onPhoto() {
    const device = await getApp().device();
    const bytes = await new Promise((resolve, reject) => wx.chooseMedia({
      count: 1, mediaType: ['image'], sourceType: ['camera'],
      success: (res) => wx.getFileSystemManager().readFile({ filePath: res.tempFiles[0].tempFilePath, success: (r) => resolve(new Uint8Array(r.data)), fail: reject }),
      fail: reject,
    }));
    this.setData({ photos: this.data.photos.concat([await device.addPhoto(bytes)]) });
  },

  async onSubmit(e) {
    const device = await getApp().device();
    const v = e.detail.value;
    const lines = (text) => String(text || '').split('\n').map((s) => s.trim()).filter(Boolean);
    try {
      await meeting.submit(device, this.data.team, {
        date: chinaDate(this.data.startedAt),
        shift: v.shift || '白班',
        slot: this.data.slot,
        host: v.host,
        startedAt: this.data.startedAt,
        endedAt: Date.now(),
        place: v.place,
        attendance: this.data.attendance,
        topics: lines(v.topics),
        risks: lines(v.risks),
        handover: lines(v.handover),
        photos: this.data.photos,
      });
      getApp().syncSoon();
      wx.showToast({ title: '已保存，将自动同步', icon: 'none' });
      wx.navigateBack();
    } catch (err) {
      wx.showModal({ title: '不能保存', content: err.message, showCancel: false });
    }
  },
});

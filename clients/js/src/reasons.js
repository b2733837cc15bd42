'use strict';
// The Chinese sentence for each reason code, as sync-core/src/reasons.rs has it (a test holds
// this table to openapi/vectors.json, which the Rust side writes).

const REASONS = {
  'acceptor-is-owner': '验收人不能是申请验收的整改人。',
  'already-handled': '此同步问题已标记为已处理。',
  'already-reported': '这条隐患已经上报过。',
  'already-submitted': '此记录已提交，不能再次提交；如需更正请提交更正记录。',
  'article-not-draft': '稿件已提交审核，不能再修改。',
  'briefing-id-mismatch': '岗前一分钟记录编号与班组、日期、班次、人员不符。',
  'card-id-mismatch': '告知卡编号与企业、岗位、卡片种类不符。',
  'commitment-id-mismatch': '承诺书编号与企业、年度不符。',
  'credit-code-invalid': '统一社会信用代码格式不正确。',
  'double-report-required': '重大隐患须先完成双报告（报监管部门和职代会）。',
  'edit-overlap': '他人同时修改了同一处内容，两个版本都已保留，请合并。',
  'entity-unreadable': '记录内容无法读取，请重新填写。',
  'floorplan-id-mismatch': '平面图编号与企业不符。',
  'grid-id-mismatch': '网格编号与网格代码不符。',
  'hazard-closed': '此隐患已销号或作废，不能再修改。',
  'id-taken': '此编号已被另一条记录占用，请重新采集一条。',
  'invalid-transition': '此隐患当前不能这样办理。',
  'meeting-id-mismatch': '会议编号与班组、日期、班次、场次不符。',
  'not-a-working-day': '该班组这一天不上班（休息日或工作日历生效之前），不应有此记录。',
  'not-major-risk': '公告所列风险点不是在用的重大风险点。',
  'not-permitted': '您的角色无权进行此操作。',
  'note-required': '请填写原因。',
  'notice-withdrawn': '此公告已撤下，请发布新的公告。',
  'payload-invalid': '填写的内容不符合要求。',
  'photo-missing': '照片文件已不在手机上，无法上传。',
  'photo-required': '须附照片。',
  'plan-required': '须先填写整改方案。',
  'reviewer-is-author': '稿件须由作者以外的审核员审核。',
  'risk-retired': '此风险点已停用，请登记新的风险点。',
  'risk-score-invalid': '风险评价的取值不在该方法的分值表内。',
  'schedule-empty': '工作日历每天都是休息日，没有任何应开展的活动。',
  'schedule-id-mismatch': '工作日历编号与企业、班组不符。',
  'signature-required': '须有企业负责人签字照片，或注明拒签情况。',
  'slot-not-held': '该班组不开这一场会（场次由企业安全负责人设定）。',
  'stale-state': '此记录已被他人处理，状态已变化；请查看现在的状态后再操作。',
  'stale-transition': '此隐患已被他人处理，状态已变化；请查看现在的状态后再操作。',
  'stale-version': '此记录已被他人更新为新版本；请查看最新版本后再修改。',
  'team-id-mismatch': '班组编号与企业、班组代码不符。',
  'template-id-mismatch': '检查表编号与代码、版本不符。',
  'template-published': '检查表已发布，不能修改；请发布新版本。',
  'template-ref-required': '检查记录须注明所用检查表的版本。',
  'two-officers-required': '现场检查须有两名执法人员。',
  'unknown-card': '所读的岗位风险告知卡版本不存在或尚未同步。',
  'unknown-enterprise': '企业不存在，请先由安委办登记企业。',
  'unknown-entity': '所指的记录不存在（可能尚未同步或已被删除）。',
  'unknown-item': '检查项不在所用检查表中。',
  'unknown-kind': '服务器不认识这种记录，请更新应用后重新填写。',
  'unknown-post': '该岗位没有已辨识的风险点：请先为岗位辨识并评价风险。',
  'unknown-shift': '该班组没有这个班次。',
  'unknown-team': '班组不存在，请先由企业安全负责人登记班组。',
  'unknown-template': '所用检查表不存在或尚未同步。',
  'unknown-worker': '人员不在企业的从业人员名单中，请先由企业安全负责人登记。',
  'upload-expired': '照片上传已过期，下次同步时重新上传。',
  'wrong-entity-type': '这条操作与所指的记录类型不符。',
};

const FALLBACK = '未能保存。';

/** The sentence for a reason code (a general one for a code this table does not know). */
function reasonWords(code) {
  return Object.prototype.hasOwnProperty.call(REASONS, code) ? REASONS[code] : FALLBACK;
}

module.exports = { REASONS, reasonWords };

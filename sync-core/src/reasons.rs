//! What each reason code means, in the words the town's people read (Chinese).
//!
//! A [`crate::judge::Reason`] carries a stable `code` and an English `message` with the
//! particulars. Every screen that shows a refused event — the office console, the field command,
//! the mini-program — says it with the sentence here first and the particulars beside it, so the
//! three say the same thing. A test (`tests/reasons.rs`) holds the table to the codes the kinds actually use.

/// Every reason code and its sentence.
pub const REASONS: &[(&str, &str)] = &[
    // The event itself.
    ("payload-invalid", "填写的内容不符合要求。"),
    (
        "unknown-kind",
        "服务器不认识这种记录，请更新应用后重新填写。",
    ),
    ("wrong-entity-type", "这条操作与所指的记录类型不符。"),
    ("entity-unreadable", "记录内容无法读取，请重新填写。"),
    (
        "unknown-entity",
        "所指的记录不存在（可能尚未同步或已被删除）。",
    ),
    ("id-taken", "此编号已被另一条记录占用，请重新采集一条。"),
    ("not-permitted", "您的角色无权进行此操作。"),
    // Evidence and required parts.
    ("photo-required", "须附照片。"),
    ("note-required", "请填写原因。"),
    ("plan-required", "须先填写整改方案。"),
    (
        "signature-required",
        "须有企业负责人签字照片，或注明拒签情况。",
    ),
    ("two-officers-required", "现场检查须有两名执法人员。"),
    ("photo-missing", "照片文件已不在手机上，无法上传。"),
    ("upload-expired", "照片上传已过期，下次同步时重新上传。"),
    // Hazards (隐患).
    ("already-reported", "这条隐患已经上报过。"),
    (
        "stale-transition",
        "此隐患已被他人处理，状态已变化；请查看现在的状态后再操作。",
    ),
    ("invalid-transition", "此隐患当前不能这样办理。"),
    ("hazard-closed", "此隐患已销号或作废，不能再修改。"),
    ("acceptor-is-owner", "验收人不能是申请验收的整改人。"),
    (
        "double-report-required",
        "重大隐患须先完成双报告（报监管部门和职代会）。",
    ),
    // Meetings (班组会).
    (
        "already-submitted",
        "此记录已提交，不能再次提交；如需更正请提交更正记录。",
    ),
    (
        "meeting-id-mismatch",
        "会议编号与班组、日期、班次、场次不符。",
    ),
    ("unknown-team", "班组不存在，请先由企业安全负责人登记班组。"),
    (
        "slot-not-held",
        "该班组不开这一场会（场次由企业安全负责人设定）。",
    ),
    ("team-id-mismatch", "班组编号与企业、班组代码不符。"),
    // Briefings (岗前一分钟).
    (
        "briefing-id-mismatch",
        "岗前一分钟记录编号与班组、日期、班次、人员不符。",
    ),
    (
        "unknown-worker",
        "人员不在企业的从业人员名单中，请先由企业安全负责人登记。",
    ),
    // Checklists and inspections (检查表、检查).
    ("template-id-mismatch", "检查表编号与代码、版本不符。"),
    (
        "template-published",
        "检查表已发布，不能修改；请发布新版本。",
    ),
    ("template-ref-required", "检查记录须注明所用检查表的版本。"),
    ("unknown-template", "所用检查表不存在或尚未同步。"),
    ("unknown-item", "检查项不在所用检查表中。"),
    // Articles (宣传稿件).
    ("article-not-draft", "稿件已提交审核，不能再修改。"),
    (
        "edit-overlap",
        "他人同时修改了同一处内容，两个版本都已保留，请合并。",
    ),
    (
        "stale-state",
        "此记录已被他人处理，状态已变化；请查看现在的状态后再操作。",
    ),
    ("reviewer-is-author", "稿件须由作者以外的审核员审核。"),
    // Risk grading (风险分级管控).
    ("risk-score-invalid", "风险评价的取值不在该方法的分值表内。"),
    (
        "stale-version",
        "此记录已被他人更新为新版本；请查看最新版本后再修改。",
    ),
    ("risk-retired", "此风险点已停用，请登记新的风险点。"),
    ("unknown-enterprise", "企业不存在，请先由安委办登记企业。"),
    // Cards (三卡).
    ("card-id-mismatch", "告知卡编号与企业、岗位、卡片种类不符。"),
    (
        "unknown-post",
        "该岗位没有已辨识的风险点：请先为岗位辨识并评价风险。",
    ),
    ("unknown-card", "所读的岗位风险告知卡版本不存在或尚未同步。"),
    // Commitments and notices (安全承诺、重大安全风险公告).
    ("commitment-id-mismatch", "承诺书编号与企业、年度不符。"),
    ("not-major-risk", "公告所列风险点不是在用的重大风险点。"),
    ("notice-withdrawn", "此公告已撤下，请发布新的公告。"),
    // Duty schedules (班组工作日历).
    ("schedule-id-mismatch", "工作日历编号与企业、班组不符。"),
    (
        "schedule-empty",
        "工作日历每天都是休息日，没有任何应开展的活动。",
    ),
    (
        "not-a-working-day",
        "该班组这一天不上班（休息日或工作日历生效之前），不应有此记录。",
    ),
    ("unknown-shift", "该班组没有这个班次。"),
    ("floorplan-id-mismatch", "平面图编号与企业不符。"),
    // The office's records.
    ("credit-code-invalid", "统一社会信用代码格式不正确。"),
    ("grid-id-mismatch", "网格编号与网格代码不符。"),
    ("already-handled", "此同步问题已标记为已处理。"),
];

/// The sentence for `code`, or a general one for a code this table does not know (a newer
/// server's).
pub fn words(code: &str) -> &'static str {
    REASONS
        .iter()
        .find(|(known, _)| *known == code)
        .map_or("未能保存。", |(_, words)| words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_code_still_gets_a_sentence() {
        assert!(words("stale-transition").contains("他人处理"));
        assert_eq!(words("from-a-newer-server"), "未能保存。");
    }
}

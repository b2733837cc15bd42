// Hazards (隐患): a report, and each step of the lifecycle as the protocol names it. Which steps a
// person is offered follows the lifecycle; whether they may take it is the server's judgement,
// which comes back with the next sync.

const STATES = {
  reported: '已上报',
  plan_pending: '待制定整改方案',
  rectifying: '整改中',
  pending_acceptance: '待验收',
  closed: '已销号',
  void: '作废',
};

/** The steps from a state: [to, what the button says, what it needs]. */
function steps(hazard, roles) {
  const r = new Set(roles);
  const rectifier = r.has('enterprise_manager') || r.has('admin');
  const supervisor = r.has('inspector') || r.has('admin');
  const major = hazard.body.level === 'major';
  const out = [];
  switch (hazard.body.state) {
    case 'reported':
      if (!major && rectifier) out.push({ to: 'rectifying', label: '开始整改' });
      if (major && supervisor) out.push({ to: 'plan_pending', label: '要求制定整改方案', needs: ['double_report'] });
      break;
    case 'plan_pending':
      if (rectifier) out.push({ to: 'rectifying', label: '提交整改方案并开始整改', needs: ['plan'] });
      break;
    case 'rectifying':
      if (rectifier) out.push({ to: 'pending_acceptance', label: '整改完成，申请验收', needs: ['photos'] });
      break;
    case 'pending_acceptance':
      if (supervisor) {
        out.push({ to: 'closed', label: '验收通过，销号' });
        out.push({ to: 'rectifying', label: '退回整改', needs: ['note'] });
      }
      break;
    default:
  }
  return out;
}

/** Logs a step from the state the person saw (`from`): a stale one comes back as a conflict. */
async function step(device, hazard, to, { note, plan, photos = [], doubleReport } = {}) {
  const payload = { from: hazard.body.state, to };
  if (note && note.trim()) payload.note = note.trim();
  if (plan && plan.trim()) payload.plan = plan.trim();
  if (doubleReport) payload.double_report = doubleReport;
  return device.capture('hazard.transition', hazard.id, payload, { blobRefs: photos });
}

/** A day (YYYY-MM-DD) as the ms of its start in China time (UTC+8), or null. */
function chinaDayMs(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day || '')) return null;
  const ms = Date.parse(`${day}T00:00:00+08:00`);
  return Number.isFinite(ms) ? ms : null;
}

/** The 双报告 of a major hazard from the two days it was reported, or null while one is missing. */
function doubleReport(regulatorDay, congressDay) {
  const regulator = chinaDayMs(regulatorDay);
  const congress = chinaDayMs(congressDay);
  if (regulator == null || congress == null) return null;
  return { regulator_at_ms: regulator, congress_at_ms: congress };
}

/** Reports a hazard found (with at least one photo). Returns its id. */
async function report(device, { enterpriseId, gridId, level = 'general', description, deadline, photos }) {
  if (!photos || photos.length === 0) throw new Error('隐患须拍照');
  const id = await device.newId();
  const payload = { enterprise_id: enterpriseId, level, description: description.trim() };
  if (gridId) payload.grid_id = gridId;
  if (deadline) payload.deadline = deadline;
  await device.capture('hazard.report', id, payload, { blobRefs: photos });
  return id;
}

module.exports = { STATES, steps, step, report, doubleReport };

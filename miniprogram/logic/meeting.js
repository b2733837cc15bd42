// A shift meeting (班组"3个5分钟"安全交接会): attendance taken from the team's roster (the
// workers of the team), fitness and protective equipment per person, topics, risks, handover.

const { meetingId } = require('../sdk/index');

/** The attendance sheet of a team from its workers (all present until marked). */
function roster(workers, team) {
  return workers
    .filter((w) => !w.deleted && w.body.enterprise_id === team.body.enterprise_id && w.body.team_id === team.body.code)
    .map((w) => ({ name: w.body.name, worker_id: w.id, status: 'present', fit_for_duty: true, ppe_ok: true }));
}

/** Logs a meeting held; its id follows from team, day, shift and slot, the same on every phone. */
async function submit(device, team, { date, shift, slot, host, startedAt, endedAt, place, attendance, topics, risks = [], handover = [], photos = [] }) {
  if (photos.length === 0) throw new Error('请拍一张会议现场照片');
  if (!host || !host.trim()) throw new Error('请填写主持人');
  if (topics.length === 0) throw new Error('请填写至少一条安全议题');
  const id = meetingId(team.body.enterprise_id, team.body.code, date, shift, slot);
  await device.capture('meeting.submit', id, {
    enterprise_id: team.body.enterprise_id,
    team_id: team.body.code,
    date,
    shift,
    slot,
    host,
    started_at_ms: startedAt,
    ended_at_ms: endedAt,
    place,
    attendance: attendance.map((a) => {
      const row = { name: a.name, status: a.status, fit_for_duty: a.fit_for_duty, ppe_ok: a.ppe_ok };
      if (a.worker_id) row.worker_id = a.worker_id;
      return row;
    }),
    topics,
    risks,
    handover,
  }, { blobRefs: photos });
  return id;
}

module.exports = { roster, submit };

// Today's work (今日工作) for the signed-in person, from the local view: hazards to rectify or
// to accept in their scope, inspections begun and not submitted, meetings due for their team,
// articles to finish. Pending records (待同步) count as done by this phone.

const SLOT_NAMES = { pre_shift: '班前会', mid_shift: '班中会', handover: '交接班会' };

/** `today`: YYYY-MM-DD in China time. `drafts`: inspections begun on this phone. */
async function todayWork(device, today, drafts = []) {
  const user = device.user || { roles: [], scopes: {} };
  const roles = new Set(user.roles);
  const scopes = user.scopes || {};
  const hazards = await device.view('hazard');
  const open = (h) => !['closed', 'void'].includes(h.body.state);
  const work = { rectify: [], accept: [], inspections: drafts, meetings: [], articles: [] };
  if (roles.has('enterprise_manager')) {
    work.rectify = hazards.filter((h) => open(h) && h.body.enterprise_id === scopes.enterprise
      && ['reported', 'plan_pending', 'rectifying'].includes(h.body.state));
  }
  if (roles.has('inspector') || roles.has('admin')) {
    work.accept = hazards.filter((h) => h.body.state === 'pending_acceptance');
  }
  if (roles.has('team_lead')) {
    const team = (await device.view('team')).find((t) => t.body.enterprise_id === scopes.enterprise && t.body.code === scopes.team);
    if (team) {
      const held = new Set((await device.view('meeting'))
        .filter((m) => m.body.team_id === team.body.code && m.body.date === today)
        .map((m) => m.body.slot));
      work.meetings = (team.body.slots || []).filter((slot) => !held.has(slot))
        .map((slot) => ({ slot, name: SLOT_NAMES[slot] || slot, team }));
    }
  }
  if (roles.has('publicist')) {
    work.articles = (await device.view('article')).filter((a) => a.body.author === user.id
      && a.body.state === 'draft');
  }
  return work;
}

/** China's date of a time (ms), YYYY-MM-DD. */
function chinaDate(ms) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

module.exports = { todayWork, chinaDate, SLOT_NAMES };

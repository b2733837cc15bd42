// An inspection (检查) from the checklist (检查表) it pins, item by item, with photos; submitted
// as one `inspection.submit` and, for every item found wanting, a hazard (隐患) that names it.
// Begun inspections are drafts kept in a file of their own until submitted.

const KINDS = {
  self_check: '企业自查',
  grid_patrol: '网格巡查',
  enforcement: '执法检查',
  special_campaign: '专项检查',
  recheck: '复查',
};

/** A new draft of `kind` at `enterprise` (a projection) with the newest version of a checklist. */
function begin(enterprise, templates, kind, inspectors, now) {
  const newest = templates
    .filter((t) => !t.deleted)
    .sort((a, b) => b.body.version - a.body.version)[0];
  if (!newest) throw new Error('还没有检查表：请先同步');
  const items = newest.body.sections.flatMap((section) => section.items.map((item) => ({
    section: section.title, code: item.code, text: item.text, verdict: null, note: '', photos: [],
  })));
  return {
    enterprise_id: enterprise.id,
    enterprise_name: enterprise.body.name,
    grid_id: enterprise.body.grid_id,
    kind,
    template: newest.body.code,
    template_version: newest.body.version,
    inspectors,
    started_at_ms: now,
    items,
    summary: '',
    signature: null,
    refusal_note: '',
  };
}

/** Kinds done by law-enforcement officers: two of them, each with a certificate number (执法证号). */
const CERTIFIED = ['enforcement', 'recheck'];

/**
 * The inspectors as typed: people separated by 、 , ； or new lines, each a name optionally followed
 * by a space (or ：) and the certificate number (执法证号), e.g. "林检查 32010012、王网格".
 */
function parseInspectors(text) {
  return String(text || '').split(/[，,、;；\n]+/).map((p) => p.trim()).filter(Boolean).map((person) => {
    const [name, ...rest] = person.split(/[\s:：]+/);
    const certificate = rest.join('');
    return certificate ? { name, certificate } : { name };
  });
}

/** The inspectors written back as `parseInspectors` reads them. */
function inspectorsText(inspectors) {
  return inspectors.map((i) => (i.certificate ? `${i.name} ${i.certificate}` : i.name)).join('、');
}

/** Records an item's result: `ok`, `hazard` (存在隐患) or `not_applicable`. */
function record(draft, code, verdict, note = '', photos = []) {
  const item = draft.items.find((i) => i.code === code);
  if (!item) throw new Error(`检查表中没有 ${code}`);
  item.verdict = verdict;
  item.note = note;
  item.photos = photos;
  return draft;
}

/** What still stops the draft from being submitted, in words (empty when ready). */
function problems(draft) {
  const out = [];
  const left = draft.items.filter((i) => !i.verdict).length;
  if (left > 0) out.push(`还有 ${left} 项未检查`);
  if (draft.items.some((i) => i.verdict === 'hazard' && i.photos.length === 0)) out.push('存在隐患的项须拍照');
  if (!draft.signature && !draft.refusal_note.trim()) out.push('须有企业负责人签字照片，或注明拒签情况');
  if (draft.inspectors.length === 0) out.push('须填写检查人员');
  if (CERTIFIED.includes(draft.kind) && draft.inspectors.filter((i) => i.certificate).length < 2) {
    out.push(`${KINDS[draft.kind]}须有两名执法人员，每人写明执法证号（如：林检查 32010012）`);
  }
  return out;
}

/**
 * Submits a ready draft: the inspection, then a hazard for each item found wanting, all logged
 * on the phone at once (sent at the next sync). Returns the inspection's id.
 */
async function submit(device, draft, now, deadline) {
  const wrong = problems(draft);
  if (wrong.length > 0) throw new Error(wrong.join('；'));
  const id = await device.newId();
  const results = draft.items.map((i) => {
    const r = { item: i.code, verdict: i.verdict };
    if (i.note.trim()) r.note = i.note.trim();
    if (i.photos.length > 0) r.photos = i.photos;
    return r;
  });
  const photos = [...new Set(draft.items.flatMap((i) => i.photos).concat(draft.signature ? [draft.signature] : []))];
  const payload = {
    enterprise_id: draft.enterprise_id,
    grid_id: draft.grid_id,
    kind: draft.kind,
    template: draft.template,
    template_version: draft.template_version,
    inspectors: draft.inspectors,
    started_at_ms: draft.started_at_ms,
    ended_at_ms: now,
    results,
    summary: draft.summary.trim() || `检查 ${results.length} 项，发现隐患 ${draft.items.filter((i) => i.verdict === 'hazard').length} 处`,
  };
  if (draft.signature) payload.signature = draft.signature;
  else payload.refusal_note = draft.refusal_note.trim();
  await device.capture('inspection.submit', id, payload, {
    blobRefs: photos,
    templateRef: `${draft.template}@${draft.template_version}`,
  });
  for (const item of draft.items.filter((i) => i.verdict === 'hazard')) {
    const report = {
      enterprise_id: draft.enterprise_id,
      level: 'general',
      description: item.note.trim() || item.text,
      inspection_id: id,
    };
    if (draft.grid_id) report.grid_id = draft.grid_id;
    if (deadline) report.deadline = deadline;
    await device.capture('hazard.report', await device.newId(), report, { blobRefs: item.photos });
  }
  return id;
}

module.exports = { parseInspectors, inspectorsText, KINDS, begin, record, problems, submit };

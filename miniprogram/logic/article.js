// Articles (宣传稿件): a draft saved as often as the publicist likes, then submitted for review
// (送审). Each save names the version it edits (`base_rev`: the article's `version` as the
// server has it, plus this phone's own saves not yet pulled back), so edits made on another
// phone to other fields merge, and overlapping ones come back as a conflict, never lost.

/** The version an edit of `article` (a view entry, or null for a new one) is based on. */
function baseVersion(article) {
  if (!article) return 0;
  const server = article.rev ? article.body.version || 0 : 0;
  const mine = (article.pendingEvents || []).filter((e) => e.kind === 'article.save').length;
  return server + mine;
}

async function save(device, article, { title, body, column, cover, images = [] }) {
  if (!title || !title.trim()) throw new Error('请填写标题');
  const id = article ? article.id : await device.newId();
  const payload = { title: title.trim(), body: body || '' };
  if (column) payload.column = column;
  if (cover) payload.cover = cover;
  if (images.length > 0) payload.images = images;
  const photos = [...new Set([cover, ...images].filter(Boolean))];
  await device.capture('article.save', id, payload, { blobRefs: photos, baseRev: baseVersion(article) });
  return id;
}

async function submit(device, article) {
  return device.capture('article.submit', article.id, {});
}

module.exports = { save, submit, baseVersion };

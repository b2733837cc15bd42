// Articles (宣传稿件): a draft saved as often as the publicist likes (each save names the
// version it edits, so edits made elsewhere merge), then submitted for review (送审).

async function save(device, article, { title, body, column, cover, images = [] }) {
  const id = article ? article.id : await device.newId();
  const payload = { title: title.trim(), body };
  if (column) payload.column = column;
  if (cover) payload.cover = cover;
  if (images.length > 0) payload.images = images;
  const photos = [...new Set([cover, ...images].filter(Boolean))];
  await device.capture('article.save', id, payload, {
    blobRefs: photos,
    baseRev: article && !article.pending ? article.rev : null,
  });
  return id;
}

async function submit(device, article) {
  return device.capture('article.submit', article.id, {}, { baseRev: article.pending ? null : article.rev });
}

module.exports = { save, submit };

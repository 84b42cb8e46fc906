// The hub's own public pages (the status page, the evaluation page): plain HTML made on the
// server, in Chinese, from one shell, with every value escaped.

/** Text as HTML shows it, never as markup: the five characters that could start or end one, escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A whole page: `head`, lines of the head besides the charset, viewport, title and style; `body`,
 * what goes in <main>; `after`, what follows <main> in the body (a script).
 */
export function htmlDocument(page: { title: string; style: string; head?: readonly string[]; body: string; after?: string }): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${(page.head ?? []).map((l) => `${l}\n`).join('')}<title>${escapeHtml(page.title)}</title>
<style>${page.style}</style>
</head>
<body>
<main>
${page.body}
</main>
${page.after ?? ''}</body>
</html>
`;
}

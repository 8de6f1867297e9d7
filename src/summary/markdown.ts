// Markdown for the job summary. core.summary does not escape anything, and much of what we show
// came from instances, users or AWS: every such value passes through escapeHtml or a table cell.

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '|': '&#124;',
  '[': '&#91;',
  ']': '&#93;',
  '*': '&#42;',
  _: '&#95;',
  '\\': '&#92;',
};

/** Escapes text for Markdown and HTML alike: no tags, links, emphasis or table breaks survive. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`|[\]*_\\]/g, (c) => HTML_ESCAPES[c]).replace(/\r?\n/g, '<br>');
}

/** A table cell: escaped, control characters dropped, cut to a readable length. */
export function cell(value: unknown, max = 300): string {
  if (value === undefined || value === null || value === '') return '—';
  // eslint-disable-next-line no-control-regex
  const text = String(value).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return escapeHtml(cut);
}

export function table(headers: string[], rows: unknown[][]): string {
  const head = `| ${headers.map((h) => cell(h)).join(' | ')} |`;
  const rule = `| ${headers.map(() => '---').join(' | ')} |`;
  const body = rows.map((r) => `| ${r.map((v) => cell(v)).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

/** A collapsed section; `body` is Markdown the caller already escaped. */
export function details(summary: string, body: string): string {
  return `<details><summary>${escapeHtml(summary)}</summary>\n\n${body}\n\n</details>`;
}

export function heading(level: 2 | 3 | 4, text: string): string {
  return `${'#'.repeat(level)} ${escapeHtml(text)}`;
}

/** Renders many rows without blowing the 1 MiB summary limit: the first `limit`, then a count. */
export function cappedTable(headers: string[], rows: unknown[][], limit = 200): string {
  if (rows.length <= limit) return table(headers, rows);
  return `${table(headers, rows.slice(0, limit))}\n\n_${rows.length - limit} more rows are in the record._`;
}

// Renders the combined job summaries as a standalone HTML page, close to how GitHub shows a job
// summary (GitHub-flavoured Markdown, tables, <details>, Mermaid blocks drawn as charts), so a person
// can open it in a browser. The page loads nothing from the network: Mermaid is inlined from the
// local package, and the content security policy allows only inline scripts and styles.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { marked } from 'marked';

const STYLE = `
body { font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; max-width: 1012px; margin: 32px auto; padding: 0 16px; }
h1, h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
table { border-collapse: collapse; display: block; overflow: auto; margin: 0 0 16px; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
tr:nth-child(2n) { background: #f6f8fa; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; border-radius: 6px; }
pre { padding: 16px; overflow: auto; }
pre.mermaid { background: none; }
hr { border: 0; border-top: 4px solid #d1d9e0; margin: 32px 0; }
details { margin: 8px 0; }
`;

const MERMAID_JS = join(process.cwd(), 'node_modules', 'mermaid', 'dist', 'mermaid.min.js');

/** ```mermaid fences become <pre class="mermaid"> (their text stays HTML-escaped, as marked left it). */
export function markMermaidBlocks(html: string): string {
  return html.replace(
    /<pre><code class="language-mermaid">([\s\S]*?)<\/code><\/pre>/g,
    '<pre class="mermaid">$1</pre>',
  );
}

function mermaidScript(): string {
  if (!existsSync(MERMAID_JS)) return '';
  // A "</script" inside the library would end the element early; the escaped form is the same JS.
  const js = readFileSync(MERMAID_JS, 'utf8').replace(/<\/script/gi, '<\\/script');
  return `<script>${js}</script>\n<script>mermaid.initialize({ startOnLoad: true, securityLevel: 'strict' });</script>`;
}

export function renderHtmlPage(title: string, markdown: string): string {
  const body = markMermaidBlocks(marked.parse(markdown, { gfm: true, async: false }) as string);
  const safeTitle = title.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );
  const script = body.includes('class="mermaid"') ? mermaidScript() : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${safeTitle}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; font-src data:">
<style>${STYLE}</style></head>
<body>
${body}
${script}
</body></html>
`;
}

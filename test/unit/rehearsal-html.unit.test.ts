import { markMermaidBlocks, renderHtmlPage } from '../../rehearsal/html.js';

describe('rehearsal HTML page', () => {
  it('turns Mermaid fences into drawable blocks and inlines Mermaid, loading nothing from outside', () => {
    const page = renderHtmlPage(
      'Rehearsal <loop>',
      '# Title\n\n```mermaid\nxychart-beta\n  line [1, 2]\n```\n',
    );
    expect(page).toContain('<title>Rehearsal &lt;loop&gt;</title>');
    expect(page).toContain('<pre class="mermaid">xychart-beta');
    expect(page).toContain("mermaid.initialize({ startOnLoad: true, securityLevel: 'strict' })");
    expect(page).toContain("default-src 'none'");
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/cdn/);
  });

  it('keeps escaped text escaped inside a Mermaid block', () => {
    expect(markMermaidBlocks('<pre><code class="language-mermaid">a &lt;b&gt;</code></pre>')).toBe(
      '<pre class="mermaid">a &lt;b&gt;</pre>',
    );
  });

  it('adds no script to a page without a chart, and keeps tables and details', () => {
    const page = renderHtmlPage(
      't',
      '| a | b |\n|---|---|\n| 1 | 2 |\n\n<details><summary>s</summary>\n\nx\n\n</details>',
    );
    expect(page).not.toContain('<script>');
    expect(page).toContain('<table>');
    expect(page).toContain('<details><summary>s</summary>');
  });
});

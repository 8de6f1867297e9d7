// The import graph of src/, read from the source text: every `import … from`, `export … from`,
// side-effect `import '…'` and `import('…')` of each .ts file, type-only imports included (a type
// import ties two layers together just as much; it only leaves no trace in the bundle). No parser
// dependency: the statements are simple enough for a regular expression once comments are gone.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';

/** One import: from a file under src/ to a file under src/ (`src/…ts`) or a package name. */
export interface ImportEdge {
  from: string;
  to: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Block and line comments out, so an import written in a comment is not read as one. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/[^\n]*/g, '$1');
}

const SPECIFIERS = [
  // import x from '…'; import { a, b } from '…'; import type { T } from '…'; export { a } from '…';
  // export * from '…' (multi-line lists included: [^;]*? runs over newlines)
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?[^;'"`]*?\sfrom\s*['"]([^'"]+)['"]/g,
  // import '…' (side effects only)
  /(?:^|[\s;])import\s*['"]([^'"]+)['"]/g,
  // import('…'), also in `typeof import('…')`
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The module specifiers one file's text imports, in order, repeats removed. */
export function specifiersOf(text: string): string[] {
  const code = stripComments(text);
  const found = new Set<string>();
  for (const re of SPECIFIERS) for (const m of code.matchAll(re)) found.add(m[1]);
  return [...found];
}

/** `../aws/ec2.js` from `src/modes/canary.ts` → `src/aws/ec2.ts`; a package stays its name. */
function resolveSpecifier(from: string, spec: string, files: Set<string>): string {
  if (!spec.startsWith('.')) return spec;
  const base = posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base])
    if (files.has(candidate)) return candidate;
  return `${base}.ts`;
}

/** The .ts files under root/src, as sorted repo-relative posix paths. */
export function srcFiles(root = process.cwd()): string[] {
  return tsFiles(join(root, 'src'))
    .map((p) => relative(root, p).split(/[\\/]/).join('/'))
    .sort();
}

/** Every import edge of the .ts files under root/src, with repo-relative posix paths. */
export function readImportGraph(root = process.cwd()): ImportEdge[] {
  const paths = srcFiles(root);
  const files = new Set(paths);
  return paths.flatMap((from) =>
    specifiersOf(readFileSync(join(root, from), 'utf8')).map((spec) => ({
      from,
      to: resolveSpecifier(from, spec, files),
    })),
  );
}

/**
 * The edges that lie on an import cycle: both ends in one strongly connected component of more
 * than one file (Tarjan's algorithm), or a file importing itself.
 */
export function cycleEdges(edges: ImportEdge[]): ImportEdge[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!e.to.startsWith('src/')) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    if (!next.has(e.to)) next.set(e.to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const component = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  let counter = 0;
  let components = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.set(w, components);
      } while (w !== v);
      components++;
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return edges.filter(
    (e) => e.to.startsWith('src/') && (e.from === e.to || component.get(e.from) === component.get(e.to)),
  );
}

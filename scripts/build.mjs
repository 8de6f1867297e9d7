// Bundles the action into dist/index.js with esbuild (minified, ESM for node24), and writes
// dist/licenses.txt: the license of every package whose code is in the bundle. esbuild takes about
// a second where ncc took over a minute, and its output is smaller (the bundle must stay <= 3 MB).
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const result = await build({
  entryPoints: ['src/index.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  metafile: true,
  outfile: 'dist/index.js',
  // Bundled CommonJS dependencies require() node builtins; ESM has no require of its own.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

// One entry per package in the bundle, in name order, with its license text when it ships one.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (!m) continue;
  const dir = input.slice(0, input.indexOf(m[0]) + m[0].length - 1);
  if (!packages.has(m[1])) packages.set(m[1], dir);
}
const parts = [];
for (const [name, dir] of [...packages.entries()].sort(([a], [b]) => a.localeCompare(b))) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = existsSync(dir) ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f)) : undefined;
  const text = file ? readFileSync(join(dir, file), 'utf8').trim() : '';
  parts.push(`${name}\n${pkg.license ?? 'UNKNOWN'}\n${text}`);
}
writeFileSync(join(dirname('dist/index.js'), 'licenses.txt'), `${parts.join('\n\n')}\n`);
writeFileSync('dist/package.json', '{\n  "type": "module"\n}\n');

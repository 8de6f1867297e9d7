// The layering that keeps the code one house (issue #14), checked on the import graph of src/:
//   (a) decisions and renderers (src/logic/**, src/summary/**) import no AWS code: nothing from
//       src/aws/** and no @aws-sdk/* package, so they stay pure and testable without a mock;
//   (b) gateways (src/aws/**) import no phase code: nothing from src/logic/**, src/modes/** or
//       src/summary/**, so a gateway is a thin, reusable wrapper of one AWS service;
//   (c) no import cycle anywhere in src/ (type-only imports count: they tie the layers together
//       just the same);
//   (d) decisions and renderers import no phase code (src/modes/**): a renderer takes the plain
//       report data its phase hands it, so a phase and its renderer cannot form a cycle.
// eslint.config.js states (a), (b) and (d) as no-restricted-imports errors too, so an editor flags them.
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import {
  cycleEdges,
  readImportGraph,
  specifiersOf,
  srcFiles,
  type ImportEdge,
} from '../support/import-graph.js';

type Rule =
  | 'a: logic/summary import AWS code'
  | 'b: gateway imports phase code'
  | 'c: import cycle'
  | 'd: logic/summary import phase code';

const under = (path: string, ...dirs: string[]) => dirs.some((d) => path.startsWith(`src/${d}/`));

function violations(edges: ImportEdge[]): string[] {
  const found: [Rule, ImportEdge][] = [
    ...edges
      .filter((e) => under(e.from, 'logic', 'summary'))
      .filter((e) => under(e.to, 'aws') || e.to.startsWith('@aws-sdk/'))
      .map((e): [Rule, ImportEdge] => ['a: logic/summary import AWS code', e]),
    ...edges
      .filter((e) => under(e.from, 'aws') && under(e.to, 'logic', 'modes', 'summary'))
      .map((e): [Rule, ImportEdge] => ['b: gateway imports phase code', e]),
    ...cycleEdges(edges).map((e): [Rule, ImportEdge] => ['c: import cycle', e]),
    ...edges
      .filter((e) => under(e.from, 'logic', 'summary') && under(e.to, 'modes'))
      .map((e): [Rule, ImportEdge] => ['d: logic/summary import phase code', e]),
  ];
  return found.map(([rule, e]) => `${rule[0]} | ${e.from} -> ${e.to}`).sort();
}

describe('import rules of src/', () => {
  const edges = readImportGraph();

  it('reads the imports TypeScript itself sees in every file', () => {
    // The reader is a regular expression; TypeScript's pre-processor is the reference for it.
    const files = srcFiles();
    expect(files.length).toBeGreaterThan(50);
    for (const from of files) {
      const text = readFileSync(from, 'utf8');
      const reference = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
      expect(specifiersOf(text).sort()).toEqual([...new Set(reference)].sort());
    }
    // Sanity: the graph is the real one (the entry point reaches the modes).
    expect(edges.some((e) => e.from === 'src/main.ts')).toBe(true);
    expect(edges.some((e) => e.from.startsWith('src/modes/') && e.to.startsWith('src/aws/'))).toBe(true);
  });

  it('has no violation', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('finds a cycle, a gateway reaching into logic and a renderer reaching AWS when there is one', () => {
    // The rules themselves, on a made-up graph: a test that could never fail would prove nothing.
    const made: ImportEdge[] = [
      { from: 'src/summary/x.ts', to: '@aws-sdk/client-sqs' },
      { from: 'src/logic/y.ts', to: 'src/aws/sqs.ts' },
      { from: 'src/aws/sqs.ts', to: 'src/modes/verify.ts' },
      { from: 'src/modes/verify.ts', to: 'src/summary/verify.ts' },
      { from: 'src/summary/verify.ts', to: 'src/modes/verify.ts' },
      { from: 'src/modes/verify.ts', to: 'src/aws/sqs.ts' },
      { from: 'src/logic/z.ts', to: 'src/modes/rollout.ts' },
    ];
    expect(violations(made)).toEqual([
      'a | src/logic/y.ts -> src/aws/sqs.ts',
      'a | src/summary/x.ts -> @aws-sdk/client-sqs',
      'b | src/aws/sqs.ts -> src/modes/verify.ts',
      'c | src/aws/sqs.ts -> src/modes/verify.ts',
      'c | src/modes/verify.ts -> src/aws/sqs.ts',
      'c | src/modes/verify.ts -> src/summary/verify.ts',
      'c | src/summary/verify.ts -> src/modes/verify.ts',
      'd | src/logic/z.ts -> src/modes/rollout.ts',
      'd | src/summary/verify.ts -> src/modes/verify.ts',
    ]);
  });
});

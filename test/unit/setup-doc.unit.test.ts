// docs/SETUP.md and iam/trust-policy.json describe the workflows; these checks keep them true.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderDeploymentLog } from '../../src/summary/deployment-log.js';
import { renderNotificationAfter } from '../../src/summary/notifications.js';
import { at, completedRecord } from '../support/sample-record.js';

const doc = readFileSync('docs/SETUP.md', 'utf8');
const workflows = readdirSync('.github/workflows').map((f) =>
  readFileSync(join('.github/workflows', f), 'utf8'),
);

/** The body of the fenced block of `lang` that follows `after` in the doc. */
function fenced(lang: string, after: string): string {
  const from = doc.indexOf(after);
  const start = doc.indexOf(`\`\`\`${lang}\n`, from) + lang.length + 4;
  return doc.slice(start, doc.indexOf('\n```', start));
}

describe('docs/SETUP.md', () => {
  it('documents every repository variable the workflows read', () => {
    const used = new Set(workflows.flatMap((w) => [...w.matchAll(/vars\.([A-Z0-9_]+)/g)].map((m) => m[1])));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used)
      expect({ name, documented: doc.includes(`\`${name}\``) }).toEqual({ name, documented: true });
  });

  it('shows the deployment log exactly as the renderer writes it', () => {
    const log = renderDeploymentLog(completedRecord(), {
      approvals: [
        {
          user: 'lead-sre',
          state: 'approved',
          comment: 'canary log clean, DLQ flat',
          environments: ['production'],
        },
      ],
      metricLabel: 'CISFileSearch/Worker MessageDeleteFailed',
    });
    expect(fenced('markdown', '## 7. What the summaries look like')).toBe(
      log.slice(0, log.indexOf('### Phases')).trimEnd(),
    );
  });

  it('shows the after notification exactly as the renderer writes it', () => {
    expect(fenced('text', 'The *after* notification')).toBe(
      renderNotificationAfter(completedRecord(), new Date(at(31))),
    );
  });

  it('explains how the record goes from job to job, for a fleet of any size', () => {
    const section = doc.slice(
      doc.indexOf('### How the record goes from job to job'),
      doc.indexOf('## 5. Rollback'),
    );
    expect(section.length).toBeGreaterThan(500);
    for (const words of [
      'record-<job>-<attempt>',
      '`record-file:`',
      'if: always()',
      'pick-latest',
      '128 KiB',
      'actions: read',
    ])
      expect({ words, explained: section.includes(words) }).toEqual({ words, explained: true });
    // The retention the doc states is the one the workflows set.
    const retention = workflows.flatMap((w) =>
      [
        ...w.matchAll(/name: record-[a-z]+-\$\{\{ github\.run_attempt \}\}[\s\S]*?retention-days: (\d+)/g),
      ].map((m) => m[1]),
    );
    // Five jobs of the deploy, rollback.yml's rollback, the checkpoints' plan and verify,
    // dlq-redrive.yml's redrive.
    expect(retention).toHaveLength(9);
    expect(new Set(retention)).toEqual(new Set(['30']));
    expect(doc).toContain('The per-job `record-*` artifacts are kept 30 days');
    // The old advice for large fleets is gone: the limit is handled.
    expect(doc).not.toContain('split the deployment by instance filter');
  });

  it('explains the checkpoint design and the rollback choice', () => {
    expect(doc).toContain('## 6. Later checkpoints (1 h and 24 h)');
    expect(doc).toContain('### Why rollback has no approval gate');
    expect(doc).toContain('### Where required reviewers are not available on your plan');
  });
});

describe('iam/trust-policy.json', () => {
  const policy = JSON.parse(readFileSync('iam/trust-policy.json', 'utf8')) as {
    Statement: {
      Effect: string;
      Action: string;
      Principal: { Federated: string };
      Condition: Record<string, Record<string, string | string[]>>;
    }[];
  };

  it('trusts GitHub OIDC for STS, from the default branch and the production environment only', () => {
    expect(policy.Statement).toHaveLength(1);
    const [s] = policy.Statement;
    expect(s.Effect).toBe('Allow');
    expect(s.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(s.Principal.Federated).toMatch(/:oidc-provider\/token\.actions\.githubusercontent\.com$/);
    expect(Object.keys(s.Condition)).toEqual(['StringEquals']);
    const c = s.Condition.StringEquals;
    expect(c['token.actions.githubusercontent.com:aud']).toBe('sts.amazonaws.com');
    const subs = c['token.actions.githubusercontent.com:sub'] as string[];
    expect(subs.map((x) => x.replace(/^repo:[^:]+:/, ''))).toEqual([
      'ref:refs/heads/main',
      'environment:production',
    ]);
    for (const sub of subs) expect(sub).not.toMatch(/[*?]/);
  });
});

describe('adopting the workflows from another repository (docs/SETUP.md)', () => {
  type Job = { environment?: string | { name: string }; steps: { uses?: string }[] };
  const REUSABLE = ['emergency-deploy.yml', 'rollback.yml', 'checkpoints.yml', 'dlq-redrive.yml'];
  const load = (f: string) =>
    parse(readFileSync(join('.github/workflows', f), 'utf8')) as { jobs: Record<string, Job> };
  const section = doc.slice(doc.indexOf('### Adopting the workflows from another repository'));

  it('shows the caller workflow exactly as docs/examples has it', () => {
    expect(fenced('yaml', '### Adopting the workflows from another repository')).toBe(
      readFileSync('docs/examples/emergency-deploy.yml', 'utf8').trimEnd(),
    );
    for (const words of [
      '`job_workflow_ref`',
      '`job_workflow_sha`',
      'schedule:',
      'id-token: write',
      'issues: write',
    ])
      expect({ words, explained: section.includes(words) }).toEqual({ words, explained: true });
    // Every reusable workflow has its caller in docs/examples, and the section names each one.
    expect(readdirSync('docs/examples').sort()).toEqual([...REUSABLE].sort());
    const intro = section.slice(0, section.indexOf('```'));
    for (const f of REUSABLE) expect({ f, named: intro.includes(`\`${f}\``) }).toEqual({ f, named: true });
  });

  it('shows iam/trust-policy-caller.json, whose subjects are exactly the AWS jobs’ of the called workflows', () => {
    const file = readFileSync('iam/trust-policy-caller.json', 'utf8');
    expect(fenced('json', 'iam/trust-policy-caller.json')).toBe(file.trimEnd());
    const policy = JSON.parse(file) as {
      Statement: { Condition: { StringEquals: Record<string, string | string[]> } }[];
    };
    const c = policy.Statement[0].Condition.StringEquals;
    expect(c['token.actions.githubusercontent.com:aud']).toBe('sts.amazonaws.com');
    // The caller's repository as the subject's repo; the called workflow as its job_workflow_ref
    // (the subject GitHub builds when the caller's repository includes job_workflow_ref:
    // https://docs.github.com/en/actions/reference/security/oidc).
    const called = /uses: ([\w.-]+\/[\w.-]+)\/\.github\/workflows\/emergency-deploy\.yml@(\S+)/.exec(
      readFileSync('docs/examples/emergency-deploy.yml', 'utf8'),
    )!;
    const expected = new Set<string>();
    for (const f of REUSABLE)
      for (const job of Object.values(load(f).jobs)) {
        if (!job.steps.some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))) continue;
        const env = typeof job.environment === 'string' ? job.environment : job.environment?.name;
        const context = env ? `environment:${env}` : 'ref:refs/heads/main';
        expected.add(
          `repo:acme/file-processor-ops:${context}:job_workflow_ref:${called[1]}/.github/workflows/${f}@refs/tags/${called[2]}`,
        );
      }
    expect(new Set(c['token.actions.githubusercontent.com:sub'])).toEqual(expected);
    for (const sub of c['token.actions.githubusercontent.com:sub']) expect(sub).not.toMatch(/[*?]/);
  });

  it('gives the role’s MaxSessionDuration as JSON and as the CLI command, matching iam/role.json', () => {
    const role = JSON.parse(readFileSync('iam/role.json', 'utf8')) as { MaxSessionDuration: number };
    expect(doc).toContain(`"MaxSessionDuration": ${role.MaxSessionDuration}`);
    expect(doc).toContain(
      `aws iam update-role --role-name emergency-worker-deploy --max-session-duration ${role.MaxSessionDuration}`,
    );
  });
});

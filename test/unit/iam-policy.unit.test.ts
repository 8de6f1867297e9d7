// The least-privilege policy (iam/policy.json) against the source: every AWS operation the action
// can send is found by reading src/ (api.call names AND the SDK commands actually constructed,
// which must agree call site by call site so nothing bypasses the counted names), each is granted
// to the mode that can send it, none is destructive, and no mode is granted more than it can send.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODES, type Mode } from '../../src/constants.js';
import { documentedCount } from '../support/reliability-doc.js';
import { DESTRUCTIVE, SourceOps } from '../support/source-ops.js';

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
  NotAction?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
}
const policy = JSON.parse(readFileSync('iam/policy.json', 'utf8')) as {
  Version: string;
  Statement: Statement[];
};
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
const source = new SourceOps('src');
const scans = source.scan();

/** A statement's mode is the one its Sid starts with (PreflightDescribe → preflight). */
function modeOf(s: Statement): Mode | undefined {
  return MODES.find((m) => s.Sid.startsWith(m[0].toUpperCase() + m.slice(1)));
}
function grantedTo(mode: Mode): Set<string> {
  return new Set(policy.Statement.filter((s) => modeOf(s) === mode).flatMap((s) => list(s.Action)));
}
/**
 * main.ts publishes the client notifications a mode gives as outputs (src/notify.ts): a mode whose
 * source writes one can therefore send what sendNotifications sends.
 */
const notifyOps = source.reachableOps('src/notify.ts', 'sendNotifications');
const writesNotification = (m: Mode) =>
  /Output\.Notification(Before|After)\b/.test(readFileSync(`src/modes/${m}.ts`, 'utf8'));
const reachable = Object.fromEntries(
  MODES.map((m) => {
    const ops = source.reachableOps(`src/modes/${m}.ts`, m);
    if (writesNotification(m)) for (const op of notifyOps) ops.add(op);
    return [m, ops];
  }),
) as Record<Mode, Set<string>>;

/**
 * Actions AWS authorizes on the caller without the source naming them: an instance refresh whose
 * desired configuration names a launch template, and an UpdateAutoScalingGroup that names one, check
 * that the caller may launch from it (and pass the instance profile's role). Each is scoped to that
 * one template or role, and nothing else.
 */
const IMPLIED: Partial<Record<Mode, Record<string, string>>> = {
  rollout: {
    'ec2:RunInstances':
      'StartInstanceRefresh with a DesiredConfiguration checks RunInstances on the template',
    'iam:PassRole': "the template's instance profile role is passed to EC2 by the refresh",
  },
  rollback: {
    'ec2:RunInstances':
      'UpdateAutoScalingGroup naming a launch template version checks RunInstances on the template',
    'iam:PassRole': "the template's instance profile role is passed to EC2 when the group is updated",
  },
  // The message move task receives each message from the DLQ, sends it to the destination and
  // deletes it from the DLQ on the caller's authority: AWS's DLQ redrive permissions ask for
  // sqs:DeleteMessage on the DLQ and sqs:SendMessage on the destination (SQS Developer Guide,
  // "Configure queue permissions for dead-letter queue redrive"). The source never sends either.
  redrive: {
    'sqs:DeleteMessage':
      'StartMessageMoveTask deletes each moved message from the DLQ as the caller; only the DLQ',
    'sqs:SendMessage': 'StartMessageMoveTask sends each moved message to the source queue as the caller',
  },
};

/** Actions whose IAM definition has resource types: a statement granting them must not be "anything". */
const RESOURCE_SCOPED =
  /^(sqs:|s3:|sns:|ssm:SendCommand$|ec2:(CreateTags|CreateImage|CreateLaunchTemplateVersion|ModifyLaunchTemplate|RunInstances)$|autoscaling:((Start|Cancel|Rollback)InstanceRefresh|UpdateAutoScalingGroup)$|iam:PassRole$)/;

describe('what the source can send', () => {
  it('goes only through the AWS gateways: every .send( is an SDK command inside api.call with its own IAM name', () => {
    const sends = scans.flatMap((s) => s.sends);
    expect(sends.length).toBeGreaterThan(20);
    for (const site of sends) {
      const where = `${site.file}:${site.line}`;
      expect({ where, inGateway: site.file.startsWith('src/aws/') }).toEqual({ where, inGateway: true });
      expect({ where, wrappedBy: site.wrappedBy }).toEqual({ where, wrappedBy: site.command });
      expect(site.command).toBeDefined();
    }
  });

  it('names each operation twice, file by file, in the same order: api.call name and the command sent', () => {
    for (const s of scans) {
      expect({ file: s.file, ops: s.apiOps }).toEqual({ file: s.file, ops: s.commandOps });
      expect({ file: s.file, sends: s.sends.length }).toEqual({ file: s.file, sends: s.apiOps.length });
    }
    expect(scans.filter((s) => s.apiOps.length > 0).map((s) => s.file)).toEqual(
      expect.arrayContaining(['src/aws/sqs.ts', 'src/aws/ssm.ts', 'src/aws/ec2.ts']),
    );
  });

  it('sends nothing destructive (no Delete, Purge, Terminate, Deregister …)', () => {
    const destructive = [...source.allOps()].filter((op) => DESTRUCTIVE.test(op.split(':')[1]));
    expect(destructive).toEqual([]);
  });

  it('reaches every operation it names from some mode (no dead gateway widens the policy)', () => {
    const fromModes = new Set(MODES.flatMap((m) => [...reachable[m]]));
    expect([...source.allOps()].filter((op) => !fromModes.has(op))).toEqual([]);
  });
});

describe('RELIABILITY.md', () => {
  it('states how many operations and call sites the source has, and how many statements the policy', () => {
    expect(documentedCount('AWS operations the source can send')).toBe(source.allOps().size);
    expect(documentedCount('AWS call sites')).toBe(scans.reduce((n, s) => n + s.apiOps.length, 0));
    expect(documentedCount('IAM policy statements')).toBe(policy.Statement.length);
  });
});

describe('the source reader', () => {
  // Proves the checks above can fail: a fixture tree with each way of sending around the names.
  it('finds a send outside api.call, a name that disagrees with its command, and the reach of a mode', () => {
    const dir = mkdtempSync(join(tmpdir(), 'source-ops-'));
    mkdirSync(join(dir, 'aws'));
    mkdirSync(join(dir, 'modes'));
    writeFileSync(
      join(dir, 'aws', 'sqs.ts'),
      [
        "import { PurgeQueueCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';",
        "import { HeadObjectCommand } from '@aws-sdk/client-s3';",
        'export async function sneaky(clients: any) { return clients.sqs.send(new PurgeQueueCommand({})); }',
        "export async function mislabeled(api: any, clients: any) { return api.call('sqs:GetQueueAttributes', () => clients.sqs.send(new GetQueueUrlCommand({}))); }",
        "export async function head(api: any, clients: any) { return api.call('s3:GetObject', () => clients.s3.send(new HeadObjectCommand({}))); }",
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'modes', 'preflight.ts'),
      [
        "import { head as headIt } from '../aws/sqs.js';",
        'export async function preflight(api: any, clients: any) { return headIt(api, clients); }',
      ].join('\n'),
    );
    const fixture = new SourceOps(dir);
    const [sqsScan] = fixture.scan().filter((s) => s.file.endsWith('aws/sqs.ts'));
    expect(sqsScan.apiOps).toEqual(['sqs:GetQueueAttributes', 's3:GetObject']);
    expect(sqsScan.commandOps).toEqual(['sqs:PurgeQueue', 'sqs:GetQueueUrl', 's3:GetObject']);
    expect(sqsScan.sends.map((s) => [s.wrappedBy, s.command])).toEqual([
      [undefined, 'sqs:PurgeQueue'],
      ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      ['s3:GetObject', 's3:GetObject'],
    ]);
    expect(DESTRUCTIVE.test('PurgeQueue')).toBe(true);
    expect([...fixture.reachableOps(join(dir, 'modes', 'preflight.ts'), 'preflight')]).toEqual([
      's3:GetObject',
    ]);
  });
});

describe('iam/policy.json', () => {
  it('is an identity policy of Allow statements, Sids named after the modes, no wildcard action', () => {
    expect(policy.Version).toBe('2012-10-17');
    for (const s of policy.Statement) {
      expect({ sid: s.Sid, mode: modeOf(s) }).toEqual({ sid: s.Sid, mode: expect.any(String) });
      expect(s.Effect).toBe('Allow');
      expect(s.NotAction ?? s.NotResource ?? s.Principal).toBeUndefined();
      for (const a of list(s.Action)) {
        expect(a).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
        expect(a).not.toContain('*');
      }
    }
    expect(new Set(policy.Statement.map((s) => s.Sid)).size).toBe(policy.Statement.length);
    expect(new Set(policy.Statement.map(modeOf))).toEqual(new Set(MODES));
  });

  it('grants nothing destructive, but the DeleteMessage a redrive task needs, on the DLQ alone', () => {
    // Before redrive this said "nothing destructive" outright; the move task is the one action whose
    // AWS-side work deletes (each message, from the DLQ, once it is on the source queue).
    const destructive = policy.Statement.flatMap((s) =>
      list(s.Action)
        .filter((a) => DESTRUCTIVE.test(a.split(':')[1]))
        .map((a) => ({ sid: s.Sid, action: a, resource: s.Resource })),
    );
    expect(destructive).toEqual([
      {
        sid: 'RedriveReviewAndMoveFromTheDlq',
        action: 'sqs:DeleteMessage',
        resource: 'arn:aws:sqs:ap-northeast-1:123456789012:cis-worker-failures',
      },
    ]);
    expect(source.allOps().has('sqs:DeleteMessage')).toBe(false);
  });

  it.each(MODES)('grants %s every operation it can send, and nothing it cannot', (mode) => {
    const granted = grantedTo(mode);
    const implied = Object.keys(IMPLIED[mode] ?? {});
    expect([...reachable[mode]].filter((op) => !granted.has(op)).sort()).toEqual([]);
    expect([...granted].filter((a) => !reachable[mode].has(a) && !implied.includes(a)).sort()).toEqual([]);
  });

  it('grants every operation named anywhere in the source', () => {
    const granted = new Set(policy.Statement.flatMap((s) => list(s.Action)));
    expect([...source.allOps()].filter((op) => !granted.has(op)).sort()).toEqual([]);
  });

  it('scopes by ARN or condition every action AWS lets a policy scope', () => {
    for (const s of policy.Statement) {
      for (const a of list(s.Action).filter((x) => RESOURCE_SCOPED.test(x))) {
        const anything = list(s.Resource).includes('*');
        expect({ sid: s.Sid, action: a, unscoped: anything && !s.Condition }).toEqual({
          sid: s.Sid,
          action: a,
          unscoped: false,
        });
      }
    }
  });

  it('publishes the client notifications to one topic, from the modes that write them', () => {
    expect([...notifyOps]).toEqual(['sns:Publish']);
    const publish = policy.Statement.filter((s) => list(s.Action).includes('sns:Publish'));
    expect(publish.length).toBeGreaterThan(0);
    for (const s of publish) {
      expect(list(s.Action)).toEqual(['sns:Publish']);
      expect(list(s.Resource)).toEqual([
        'arn:aws:sns:ap-northeast-1:123456789012:file-processing-client-notifications',
      ]);
    }
    expect(MODES.filter(writesNotification)).toEqual(expect.arrayContaining(['preflight', 'verify']));
  });

  it('sends commands only with AWS-RunShellScript, and only to instances carrying the fleet tag', () => {
    const send = policy.Statement.filter((s) => list(s.Action).includes('ssm:SendCommand'));
    for (const s of send) {
      for (const r of list(s.Resource)) {
        if (r.includes(':document/')) {
          expect(r).toBe('arn:aws:ssm:ap-northeast-1::document/AWS-RunShellScript');
        } else {
          expect(r).toMatch(/^arn:aws:ec2:ap-northeast-1:\d{12}:instance\/\*$/);
          expect(s.Condition?.StringEquals?.['ssm:resourceTag/Name']).toBe('cis-file-processor');
        }
      }
    }
    // Each mode that sends commands has both halves: the document and the tagged instances.
    for (const mode of MODES.filter((m) => reachable[m].has('ssm:SendCommand'))) {
      const mine = send.filter((s) => modeOf(s) === mode).flatMap((s) => list(s.Resource));
      expect(mine.some((r) => r.endsWith('document/AWS-RunShellScript'))).toBe(true);
      expect(mine.some((r) => r.includes(':instance/'))).toBe(true);
    }
  });

  it('tags instances only with the deployment keys, and only instances of the fleet', () => {
    const tagging = policy.Statement.filter(
      (s) =>
        list(s.Action).includes('ec2:CreateTags') && list(s.Resource).some((r) => r.includes(':instance/')),
    );
    expect(tagging.map(modeOf).sort()).toEqual(['canary', 'rollout']);
    for (const s of tagging) {
      expect(s.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual([
        'emergency-deploy:deployment-id',
        'emergency-deploy:backup-path',
        'emergency-deploy:artifact-sha256',
      ]);
      expect(s.Condition?.StringEquals?.['aws:ResourceTag/Name']).toBe('cis-file-processor');
    }
    // Tags on the image and its snapshots only as part of CreateImage.
    const onImage = policy.Statement.filter(
      (s) => list(s.Action).includes('ec2:CreateTags') && !tagging.includes(s),
    );
    for (const s of onImage) expect(s.Condition?.StringEquals?.['ec2:CreateAction']).toBe('CreateImage');
  });

  it('touches only the runbook world’s queue, bucket and artifact prefix', () => {
    const resources = policy.Statement.flatMap((s) => list(s.Resource));
    const sqs = [...new Set(resources.filter((r) => r.startsWith('arn:aws:sqs:')))].sort();
    expect(sqs).toEqual([
      'arn:aws:sqs:ap-northeast-1:123456789012:cis-worker-failures',
      'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production',
    ]);
    // Only the source queue's visibility timeout is ever set, never the DLQ's.
    for (const s of policy.Statement.filter((x) => list(x.Action).includes('sqs:SetQueueAttributes'))) {
      expect(list(s.Resource)).toEqual([
        'arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production',
      ]);
    }
    const s3 = [...new Set(resources.filter((r) => r.startsWith('arn:aws:s3:')))].sort();
    expect(s3).toEqual([
      'arn:aws:s3:::cis-deploy-artifacts/emergency-deploy/*',
      'arn:aws:s3:::cis-filesearch-storage-production',
    ]);
  });

  it('changes only the one Auto Scaling group, and lets it launch only from the one template', () => {
    const group =
      'arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:*:autoScalingGroupName/cis-file-processor-asg';
    const changing = policy.Statement.filter((s) =>
      list(s.Action).some((a) => /^autoscaling:(?!Describe)/.test(a)),
    );
    expect(changing.length).toBeGreaterThan(0);
    for (const s of changing)
      expect({ sid: s.Sid, resource: list(s.Resource) }).toEqual({ sid: s.Sid, resource: [group] });
    // Only rollback moves the group's launch template version (back to the recorded one).
    const updating = policy.Statement.filter((s) =>
      list(s.Action).includes('autoscaling:UpdateAutoScalingGroup'),
    );
    expect(updating.map(modeOf)).toEqual(['rollback']);
    for (const s of policy.Statement.filter((x) => list(x.Action).includes('ec2:RunInstances'))) {
      expect(s.Condition?.ArnLike?.['ec2:LaunchTemplate']).toBe(
        'arn:aws:ec2:ap-northeast-1:123456789012:launch-template/lt-0123456789abcdef0',
      );
    }
    for (const s of policy.Statement.filter((x) => list(x.Action).includes('iam:PassRole'))) {
      expect(s.Resource).toBe('arn:aws:iam::123456789012:role/cis-file-processor-instance');
      expect(s.Condition?.StringEquals?.['iam:PassedToService']).toBe('ec2.amazonaws.com');
    }
  });

  it('explains every action granted beyond what the source sends', () => {
    for (const [mode, actions] of Object.entries(IMPLIED)) {
      for (const [action, why] of Object.entries(actions ?? {})) {
        expect(grantedTo(mode as Mode).has(action)).toBe(true);
        expect(why.length).toBeGreaterThan(20);
      }
    }
  });
});

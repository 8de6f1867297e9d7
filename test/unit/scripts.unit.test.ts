// The script builders: validation of every embedded value, quoting that survives anything, bash
// syntax, and the parsing of the result lines.
import { spawnSync } from 'node:child_process';
import { InputError } from '../../src/errors.js';
import { backupPathFor } from '../../src/record.js';
import {
  parseInstallOutput,
  parseResultLines,
  parseRestoreOutput,
  parseWatchOutput,
  sanitize,
} from '../../src/remote/results.js';
import {
  buildHealthCheckScript,
  buildInstallScript,
  buildRestoreScript,
  buildServiceStatusScript,
  buildWatchScript,
  describeExit,
  isScriptVerdict,
  ScriptExit,
  shellQuote,
} from '../../src/remote/scripts.js';

const SHA = 'a'.repeat(64);
const DEP = 'dep-20261129t000000z-4242-1';
const install = {
  deploymentId: DEP,
  serviceName: 'file-processor',
  workerDir: '/opt/file-processor',
  targetFile: 'worker.py',
  artifactS3Uri: 's3://artifacts-bucket/emergency-deploy/' + SHA,
  sha256: SHA,
  region: 'ap-northeast-1',
};
const restore = {
  deploymentId: DEP,
  serviceName: 'file-processor',
  workerDir: '/opt/file-processor',
  targetFile: 'worker.py',
  backupPath: backupPathFor('/opt/file-processor', 'worker.py', DEP),
};
const watch = {
  serviceName: 'file-processor',
  sinceEpochSeconds: 1_795_910_400,
  healthPatterns: ['Received [0-9]+ messages?'],
  errorPatterns: ['Traceback'],
};

const bashEcho = (quoted: string) =>
  spawnSync('bash', ['-c', `printf '%s' ${quoted}`], { encoding: 'utf8' }).stdout;
const bashSyntaxOk = (script: string) =>
  spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' }).status === 0;

const HOSTILE = [
  `'`,
  `it's`,
  `'; rm -rf / #`,
  `$(id)`,
  '`id`',
  `"$HOME"`,
  `\\'\\`,
  `a\nb`,
  `;|&<>(){}*?[]!~#`,
  `''''`,
  ' leading and trailing ',
];

describe('shellQuote', () => {
  it.each(HOSTILE)('survives %j: bash reads back exactly the value', (value) => {
    expect(bashEcho(shellQuote(value))).toBe(value);
  });

  it('refuses a NUL byte', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('validation before anything is embedded', () => {
  const cases: [string, () => string, RegExp][] = [
    [
      'service name with a command',
      () => buildInstallScript({ ...install, serviceName: 'file-processor; reboot' }),
      /'service-name'/,
    ],
    ['service name with $()', () => buildServiceStatusScript('$(reboot)'), /'service-name'/],
    ['relative worker dir', () => buildInstallScript({ ...install, workerDir: 'opt/x' }), /'worker-dir'/],
    [
      'worker dir with ..',
      () => buildInstallScript({ ...install, workerDir: '/opt/../etc' }),
      /'worker-dir'/,
    ],
    [
      'worker dir with a space',
      () => buildInstallScript({ ...install, workerDir: '/opt/file processor' }),
      /'worker-dir'/,
    ],
    [
      'worker dir with a quote',
      () => buildInstallScript({ ...install, workerDir: "/opt/it's" }),
      /'worker-dir'/,
    ],
    [
      'target file with a slash',
      () => buildInstallScript({ ...install, targetFile: '../worker.py' }),
      /'target-file'/,
    ],
    ['target file ..', () => buildInstallScript({ ...install, targetFile: '..' }), /'target-file'/],
    [
      'upper-case sha',
      () => buildInstallScript({ ...install, sha256: SHA.toUpperCase() }),
      /'artifact-sha256'/,
    ],
    ['short sha', () => buildInstallScript({ ...install, sha256: 'abc' }), /'artifact-sha256'/],
    [
      's3 uri with a space',
      () => buildInstallScript({ ...install, artifactS3Uri: 's3://bucket-a/a b' }),
      /'artifact'/,
    ],
    [
      's3 uri with $',
      () => buildInstallScript({ ...install, artifactS3Uri: 's3://bucket-a/$(id)' }),
      /'artifact'/,
    ],
    [
      's3 uri with ..',
      () => buildInstallScript({ ...install, artifactS3Uri: 's3://bucket-a/a/../b' }),
      /'artifact'/,
    ],
    [
      'not s3',
      () => buildInstallScript({ ...install, artifactS3Uri: 'https://example.com/x' }),
      /'artifact'/,
    ],
    ['bad region', () => buildInstallScript({ ...install, region: 'ap-northeast-1; id' }), /'region'/],
    [
      'bad deployment id',
      () => buildInstallScript({ ...install, deploymentId: 'dep;id' }),
      /'deployment-id'/,
    ],
    [
      'pattern with a newline',
      () => buildWatchScript({ ...watch, errorPatterns: ['a\nb'] }),
      /'error-patterns'/,
    ],
    [
      'pattern with a control char',
      () => buildWatchScript({ ...watch, healthPatterns: ['a\u0007'] }),
      /'health-patterns'/,
    ],
    ['empty pattern', () => buildHealthCheckScript({ ...watch, errorPatterns: [''] }), /'error-patterns'/],
    [
      '21 patterns',
      () => buildWatchScript({ ...watch, errorPatterns: Array.from({ length: 21 }, () => 'x') }),
      /at most 20/,
    ],
    ['non-digit main start', () => buildWatchScript({ ...watch, mainStartBaseline: '1; id' }), /main-start/],
    [
      'fractional wait',
      () => buildInstallScript({ ...install, restartWaitSeconds: 1.5 }),
      /restart-wait-seconds/,
    ],
    [
      'a record backup path elsewhere',
      () => buildRestoreScript({ ...restore, backupPath: '/etc/passwd' }),
      /'record' names backup path "\/etc\/passwd", but deployment dep-20261129t000000z-4242-1 backs up to \/opt\/file-processor\/worker\.py\.backup\.dep-20261129t000000z-4242-1/,
    ],
    [
      'a record backup path of another deployment',
      () =>
        buildRestoreScript({
          ...restore,
          backupPath: backupPathFor('/opt/file-processor', 'worker.py', 'dep-other-1'),
        }),
      /'record' names backup path/,
    ],
    [
      'a glob backup path',
      () => buildRestoreScript({ ...restore, backupPath: '/opt/file-processor/worker.py.backup.*' }),
      /'record'/,
    ],
  ];
  it.each(cases)('rejects %s, naming the input', (_name, build, message) => {
    let error: unknown;
    try {
      build();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('generated scripts', () => {
  const scripts = {
    install: buildInstallScript(install),
    restore: buildRestoreScript(restore),
    watch: buildWatchScript(watch),
    health: buildHealthCheckScript({
      serviceName: 'file-processor',
      sinceEpochSeconds: 1,
      errorPatterns: ['ERROR'],
    }),
    status: buildServiceStatusScript('file-processor'),
  };

  it.each(Object.entries(scripts))('%s is valid bash with strict mode', (_name, script) => {
    expect(bashSyntaxOk(script)).toBe(true);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('set -euo pipefail');
  });

  it('quotes every embedded value', () => {
    expect(scripts.install).toContain("svc='file-processor'");
    expect(scripts.install).toContain("dir='/opt/file-processor'");
    expect(scripts.install).toContain(`want='${SHA}'`);
    expect(scripts.install).toContain(`backup='/opt/file-processor/worker.py.backup.${DEP}'`);
    expect(scripts.install).toContain(`uri='s3://artifacts-bucket/emergency-deploy/${SHA}'`);
    expect(scripts.restore).toContain(`backup='/opt/file-processor/worker.py.backup.${DEP}'`);
    expect(scripts.watch).toContain("count health 0 'Received [0-9]+ messages?' 1");
    expect(scripts.watch).toContain("count error 0 'Traceback' 2");
  });

  it("quotes a pattern with ' and shell syntax so it stays one argument", () => {
    const script = buildWatchScript({ ...watch, errorPatterns: [`it's $(id) \`x\` "y"`] });
    expect(script).toContain(`count error 0 'it'\\''s $(id) \`x\` "y"' 2`);
    expect(bashSyntaxOk(script)).toBe(true);
  });

  it('backs up to the deployment-unique path (no glob) and replaces with mv, verifying with cmp and sha256sum', () => {
    expect(scripts.install).not.toMatch(/backup\.\*/);
    expect(scripts.install).toMatch(/cp -p "\$target" "\$partial"/);
    expect(scripts.install).toMatch(/cmp -s "\$target" "\$backup"/);
    expect(scripts.install).toMatch(/mv -f "\$tmp" "\$target"/);
    expect(scripts.install).toMatch(/sha256sum/);
    expect(scripts.restore).not.toMatch(/rm [^\n]*\$backup/);
  });

  it('stays far below the SendCommand parameter size', () => {
    const big = buildWatchScript({
      ...watch,
      healthPatterns: Array.from({ length: 20 }, () => 'h'.repeat(200)),
      errorPatterns: Array.from({ length: 20 }, () => 'e'.repeat(200)),
    });
    expect(big.length).toBeLessThan(20_000);
  });

  it('describes exit codes', () => {
    expect(describeExit(ScriptExit.BackupMissing)).toBe('backup missing on the instance');
    expect(describeExit(1)).toBe('exit code 1');
    expect(isScriptVerdict(ScriptExit.ErrorPattern)).toBe(true);
    expect(isScriptVerdict(0)).toBe(false);
    expect(isScriptVerdict(1)).toBe(false);
  });
});

describe('result lines', () => {
  it('reads only prefixed key=value lines, keeps repeats in order, and sanitizes values', () => {
    const lines = parseResultLines(
      [
        'noise',
        'EWD journal=a=b',
        'EWD journal=second\u0007',
        'EWD Bad Key=x',
        'EWD =x',
        'xEWD service=no',
        'EWD service=active',
      ].join('\n'),
    );
    expect(lines.get('journal')).toEqual(['a=b', 'second']);
    expect(lines.get('service')).toEqual(['active']);
    expect(lines.size).toBe(2);
    expect(sanitize('x'.repeat(400)).length).toBe(301);
  });

  it('parses an install report, ignoring malformed numbers and checksums', () => {
    const r = parseInstallOutput(
      [
        'EWD sha256_before=' + 'b'.repeat(64),
        'EWD backup_state=created',
        'EWD backup=/opt/file-processor/worker.py.backup.dep-1',
        'EWD sha256_after=not-a-sha',
        'EWD result=installed',
        'EWD restarted_at=1795910400',
        'EWD service=active',
        'EWD restarts=unknown',
        'EWD main_start=123',
      ].join('\n'),
    );
    expect(r).toMatchObject({
      sha256Before: 'b'.repeat(64),
      sha256After: undefined,
      backupState: 'created',
      result: 'installed',
      restartedAt: 1_795_910_400,
      service: 'active',
      restarts: undefined,
      mainStart: '123',
      journal: [],
    });
  });

  it('parses a restore report', () => {
    expect(parseRestoreOutput('EWD restore=missing\nEWD error=backup missing: x\n')).toMatchObject({
      restore: 'missing',
      error: 'backup missing: x',
    });
    expect(parseRestoreOutput('EWD sha256_before=missing\n').sha256Before).toBe('missing');
  });

  it('parses a watch report; empty output is "not reported", not zero', () => {
    const w = parseWatchOutput(
      'EWD lines=7\nEWD health.0=3\nEWD health.1=invalid\nEWD error.0=0\nEWD excerpt.health.0=Received 3 messages\nEWD service=active\n',
      2,
      1,
    );
    expect(w).toMatchObject({
      lines: 7,
      health: [3, undefined],
      errors: [0],
      service: 'active',
      reported: true,
    });
    expect(w.invalid).toEqual([{ kind: 'health', index: 1 }]);
    expect(w.excerpts).toEqual([{ kind: 'health', index: 0, line: 'Received 3 messages' }]);
    const empty = parseWatchOutput('', 2, 1);
    expect(empty).toMatchObject({ health: [undefined, undefined], errors: [undefined], reported: false });
  });
});

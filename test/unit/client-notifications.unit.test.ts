import {
  notificationsSection,
  preformatted,
  renderNotificationAfter,
  renderNotificationBefore,
} from '../../src/summary/notifications.js';
import { formatDuration, formatDurationJa, formatEn, formatJa, jstAndUtc } from '../../src/summary/time.js';
import { at, completedRecord, preflightRecord, rolledBackRecord, T0 } from '../support/sample-record.js';

describe('times in JST and UTC', () => {
  it('writes JST (UTC+9) with the UTC time beside it', () => {
    const d = new Date('2026-11-29T05:30:00Z');
    expect(formatJa(d)).toBe('2026年11月29日(日) 14:30 JST（UTC 2026-11-29 05:30）');
    expect(formatEn(d)).toBe('Sun 29 Nov 2026 14:30 JST (2026-11-29 05:30 UTC)');
    expect(jstAndUtc(d)).toBe('2026-11-29 14:30:00 JST (2026-11-29 05:30:00 UTC)');
  });

  it('crosses midnight into the next JST day', () => {
    const d = new Date('2026-12-31T15:05:00Z');
    expect(formatJa(d)).toBe('2027年1月1日(金) 00:05 JST（UTC 2026-12-31 15:05）');
  });

  it('formats durations', () => {
    expect(formatDuration(35_000)).toBe('35 s');
    expect(formatDuration(42 * 60_000 + 10_000)).toBe('42 min 10 s');
    expect(formatDuration(3_725_000)).toBe('1 h 02 min 05 s');
    expect(formatDuration(-5)).toBe('0 s');
    expect(formatDurationJa(20_000)).toBe('1分未満');
    expect(formatDurationJa(62 * 60_000)).toBe('1時間2分');
    expect(formatDurationJa(120 * 60_000)).toBe('2時間');
  });
});

describe('the notification before the work', () => {
  const text = renderNotificationBefore(preflightRecord(), new Date(T0));

  it('is Japanese first, then English, with the start time in JST and UTC', () => {
    expect(text.indexOf('お客様各位')).toBeLessThan(text.indexOf('Dear customer'));
    expect(text).toContain('開始: 2026年11月29日(日) 14:30 JST（UTC 2026-11-29 05:30）');
    expect(text).toContain('Start: Sun 29 Nov 2026 14:30 JST (2026-11-29 05:30 UTC)');
  });

  it('states the baseline queue and DLQ figures and the fleet size', () => {
    expect(text).toContain('処理待ちのファイル: 12,345 件');
    expect(text).toContain('処理中のファイル: 40 件');
    expect(text).toContain('処理できず保留中のファイル: 67 件');
    expect(text).toContain('Files waiting to be processed: 12,345 files');
    expect(text).toContain('Files held after failed processing: 67 files');
    expect(text).toContain('ファイル処理サーバー 5 台');
    expect(text).toContain('all 5 file-processing servers');
  });

  it('names an expected end only when the caller gives one', () => {
    expect(text).not.toContain('終了予定');
    const withEnd = renderNotificationBefore(preflightRecord(), new Date(T0), {
      expectedEnd: new Date(at(45)),
    });
    expect(withEnd).toContain('終了予定: 2026年11月29日(日) 15:15 JST');
    expect(withEnd).toContain('Expected end: Sun 29 Nov 2026 15:15 JST');
  });

  it('says "not measured" rather than inventing a figure', () => {
    const record = preflightRecord();
    delete record.metrics.before?.dlqVisible;
    const t = renderNotificationBefore(record, new Date(T0));
    expect(t).toContain('処理できず保留中のファイル: 未計測');
    expect(t).toContain('Files held after failed processing: not measured');
  });

  it('warns not to send a dry run', () => {
    const record = preflightRecord();
    record.phases[0].dryRun = true;
    expect(renderNotificationBefore(record, new Date(T0))).toMatch(/^【DRY RUN/);
    expect(text).not.toContain('DRY RUN');
  });
});

describe('the notification after the work', () => {
  it('reports a completed deployment with before → after figures and no rollback', () => {
    const text = renderNotificationAfter(completedRecord(), new Date(at(31)));
    expect(text).toContain('【完了のご報告】');
    expect(text).toContain('終了: 2026年11月29日(日) 15:00 JST（UTC 2026-11-29 06:00）');
    expect(text).toContain('所要時間: 30分');
    expect(text).toContain('修正版をファイル処理サーバー 5 台に適用し');
    expect(text).toContain('処理状況（作業前 → 作業完了10分後）');
    expect(text).toContain('処理待ちのファイル: 12,345 件 → 2,100 件');
    expect(text).toContain('処理できず保留中のファイル: 67 件 → 67 件');
    expect(text).toContain('処理速度: 1時間あたり 61,235 件');
    expect(text).toContain('切り戻し（ロールバック）: なし');
    expect(text).toContain('Files waiting to be processed: 12,345 files → 2,100 files');
    expect(text).toContain('Duration: 30 min 00 s');
    expect(text).toContain('- Rollback: no');
  });

  it('uses the latest checkpoint measured', () => {
    const record = completedRecord();
    record.metrics['1h'] = { at: at(80), visible: 120, dlqVisible: 67 };
    const text = renderNotificationAfter(record, new Date(at(81)));
    expect(text).toContain('作業前 → 作業完了1時間後');
    expect(text).toContain('12,345 件 → 120 件');
    expect(text).toContain('before → 1 hour after the deployment');
  });

  it('reports a rollback', () => {
    const text = renderNotificationAfter(rolledBackRecord(), new Date(at(8)));
    expect(text).toContain('【作業状況のご報告】');
    expect(text).toContain('作業前の状態に戻したサーバー: 1 台');
    expect(text).toContain('切り戻し（ロールバック）: あり');
    expect(text).toContain('- Rollback: yes');
    expect(text).toContain('Servers returned to their previous state: 1');
    expect(text).toContain('処理待ちのファイル: 12,345 件 → 未計測');
  });

  it('says what failed after a rollback, in the client’s words', () => {
    const text = renderNotificationAfter(rolledBackRecord(), new Date(at(8)));
    const failed = rolledBackRecord().phases.find((p) => p.verdict === 'fail' || p.verdict === 'no-go');
    expect(failed).toBeDefined();
    const words: Record<string, [string, string]> = {
      canary: [
        '最初の 1 台での動作確認で問題が見つかったため',
        'A problem was found in the check on the first server',
      ],
      rollout: [
        '残りのサーバーへの適用で問題が見つかったため',
        'A problem was found in applying the fix to the remaining servers',
      ],
      verify: [
        '適用後の処理状況の確認で問題が見つかったため',
        'A problem was found in the check of processing after the fix',
      ],
    };
    const [ja, en] = words[failed!.mode];
    expect(text).toContain(ja);
    expect(text).toContain(en);
    expect(text).toContain('returned the servers to their previous state');
  });

  it('does not say "working normally" while the DLQ grew: states the figure and what will be done', () => {
    const record = completedRecord();
    record.metrics['10m'] = { ...record.metrics['10m']!, dlqVisible: 90 };
    const text = renderNotificationAfter(record, new Date(at(31)));
    expect(text).not.toContain('working normally');
    expect(text).not.toContain('正常に稼働していることを確認');
    expect(text).toContain('the files held after failed processing grew from 67 to 90');
    expect(text).toContain('We will review them and send them back for processing');
    expect(text).toContain('処理できず保留中のファイルが 67 件から 90 件に増えています');
    // After the redrive moved them back, it says so.
    record.redrive = { reviewedAt: at(40), sampled: 23, status: 'COMPLETED', moved: 23 };
    const later = renderNotificationAfter(record, new Date(at(41)));
    expect(later).toContain('We reviewed them and sent 23 back for processing.');
    expect(later).toContain('これらのファイル 23 件は、内容を確認のうえ再処理に回しました');
    // A DLQ that did not grow: working normally, as before.
    expect(renderNotificationAfter(completedRecord(), new Date(at(31)))).toContain('working normally');
  });

  it('states the processing rate from the queue samples when CloudWatch had none', () => {
    const record = completedRecord();
    delete record.metrics['10m']!.filesPerHour;
    (record.extra.verify as Record<string, Record<string, unknown>>)['10m'].samples = {
      t: [0, 600],
      v: [3000, 2000],
      f: [0, 0],
      d: [0, 0],
      l: [67, 67],
      r: [5, 5],
    };
    const text = renderNotificationAfter(record, new Date(at(31)));
    expect(text).toContain('処理速度: 1時間あたり 6,000 件');
    expect(text).toContain('Processing rate: 6,000 files per hour');
  });

  it('says the work continues when a phase failed and no rollback ran yet', () => {
    const record = completedRecord();
    record.phases[record.phases.length - 1].verdict = 'fail';
    const text = renderNotificationAfter(record, new Date(at(31)));
    expect(text).toContain('作業前の状態に戻す対応を行っております');
    expect(text).toContain('切り戻し（ロールバック）: なし');
  });
});

describe('in the job summary', () => {
  it('is escaped: nothing from a record becomes markup', () => {
    const html = preformatted('<script>alert(1)</script>\n**bold** [x](https://evil)\n`code`');
    expect(html).toBe(
      '<pre>&lt;script&gt;alert(1)&lt;/script&gt;\n&#42;&#42;bold&#42;&#42; &#91;x&#93;(https://evil)\n&#96;code&#96;</pre>',
    );
  });

  it('shows both messages inside <pre> blocks, newlines kept', () => {
    const before = renderNotificationBefore(preflightRecord(), new Date(T0));
    const md = notificationsSection({ before, after: 'done' });
    expect(md).toContain('**Before the work**');
    expect(md).toContain('<pre>件名: 【緊急メンテナンスのお知らせ】');
    expect(md).toContain('**After the work**\n\n<pre>done</pre>');
    expect(md.split('<pre>').length - 1).toBe(2);
    expect(notificationsSection({})).toContain('No notification in this step.');
  });
});

// The twin's AWS/SQS metrics (a stand-in for CloudWatch's SQS metrics): counted from the SQS traffic
// the twin forwards to moto, plus the S3 uploads whose notifications moto turns into messages, and
// a periodic read of each queue's depth. One-minute buckets, as SQS publishes (SQS developer guide,
// "Available CloudWatch metrics for Amazon SQS").
//
// ApproximateAgeOfOldestMessage is approximated: the twin knows when it saw each message first (the
// SendMessage answer, or the first receive of a message S3 sent) and forgets it at its delete; the
// oldest such message still on the queue gives the age. While the queue is empty it is 0.

export const SQS_METRICS = [
  'NumberOfMessagesSent',
  'NumberOfMessagesReceived',
  'NumberOfMessagesDeleted',
  'ApproximateAgeOfOldestMessage',
  'ApproximateNumberOfMessagesVisible',
] as const;

interface Minute {
  sent: number;
  received: number;
  deleted: number;
  visible: number[];
  age: number[];
}

class QueueStats {
  readonly minutes = new Map<number, Minute>();
  /** MessageId -> when the twin first knew of it (ms). */
  readonly firstSeen = new Map<string, number>();
  /** ReceiptHandle -> MessageId, to forget a message at its delete. */
  readonly handles = new Map<string, string>();
  firstMinute = Infinity;

  minute(at = Date.now()): Minute {
    const m = Math.floor(at / 60_000) * 60_000;
    this.firstMinute = Math.min(this.firstMinute, m);
    let b = this.minutes.get(m);
    if (!b) {
      b = { sent: 0, received: 0, deleted: 0, visible: [], age: [] };
      this.minutes.set(m, b);
    }
    return b;
  }
}

export function queueNameOf(urlOrArn: string): string {
  return urlOrArn.split(/[/:]/).pop() ?? urlOrArn;
}

export class SqsMetrics {
  private readonly queues = new Map<string, QueueStats>();

  private q(name: string): QueueStats {
    let s = this.queues.get(name);
    if (!s) {
      s = new QueueStats();
      s.minute();
      this.queues.set(name, s);
    }
    return s;
  }

  knownQueues(): string[] {
    return [...this.queues.keys()];
  }

  /** One forwarded SQS JSON call and its answer. */
  record(action: string, req: Record<string, unknown>, res: Record<string, unknown>): void {
    const url = String(req.QueueUrl ?? '');
    if (!url) return;
    const s = this.q(queueNameOf(url));
    const now = Date.now();
    switch (action) {
      case 'SendMessage':
        s.minute(now).sent++;
        if (res.MessageId) s.firstSeen.set(String(res.MessageId), now);
        break;
      case 'SendMessageBatch':
        for (const ok of (res.Successful as { MessageId?: string }[] | undefined) ?? []) {
          s.minute(now).sent++;
          if (ok.MessageId) s.firstSeen.set(ok.MessageId, now);
        }
        break;
      case 'ReceiveMessage':
        for (const m of (res.Messages as
          | { MessageId?: string; ReceiptHandle?: string; Attributes?: Record<string, string> }[]
          | undefined) ?? []) {
          s.minute(now).received++;
          const id = m.MessageId ?? '';
          const sentAt = Number(m.Attributes?.SentTimestamp ?? NaN);
          if (!s.firstSeen.has(id)) s.firstSeen.set(id, Number.isFinite(sentAt) ? sentAt : now);
          if (m.ReceiptHandle) s.handles.set(m.ReceiptHandle, id);
        }
        break;
      case 'DeleteMessage':
        s.minute(now).deleted++;
        this.forget(s, String(req.ReceiptHandle ?? ''));
        break;
      case 'DeleteMessageBatch': {
        const ok = new Set(((res.Successful as { Id?: string }[] | undefined) ?? []).map((x) => x.Id));
        for (const e of (req.Entries as { Id?: string; ReceiptHandle?: string }[] | undefined) ?? []) {
          if (!ok.has(e.Id)) continue;
          s.minute(now).deleted++;
          this.forget(s, e.ReceiptHandle ?? '');
        }
        break;
      }
      case 'PurgeQueue':
        s.firstSeen.clear();
        s.handles.clear();
        break;
    }
  }

  private forget(s: QueueStats, handle: string): void {
    const id = s.handles.get(handle);
    if (id) s.firstSeen.delete(id);
    s.handles.delete(handle);
  }

  /** A message S3 (through moto) put on the queue: an upload the twin forwarded. */
  recordNotification(queueName: string): void {
    this.q(queueName).minute().sent++;
  }

  /** A move task moved messages: they leave one queue and arrive at another. */
  recordMove(from: string, to: string, ids: string[]): void {
    const a = this.q(from);
    const b = this.q(to);
    for (const id of ids) a.firstSeen.delete(id);
    b.minute().sent += ids.length;
  }

  /** The periodic depth read (ApproximateNumberOfMessages of GetQueueAttributes). */
  sampleDepth(queueName: string, visible: number): void {
    const s = this.q(queueName);
    const now = Date.now();
    const b = s.minute(now);
    b.visible.push(visible);
    if (visible === 0) {
      s.firstSeen.clear();
      b.age.push(0);
    } else {
      const oldest = Math.min(...s.firstSeen.values());
      b.age.push(Number.isFinite(oldest) ? Math.max(0, Math.round((now - oldest) / 1000)) : 0);
    }
  }

  /** One MetricDataResult for an AWS/SQS query (GetMetricData reference shape). */
  series(
    queueName: string,
    metric: string,
    stat: string,
    periodSeconds: number,
    startMs: number,
    endMs: number,
  ): { Timestamps: number[]; Values: number[] } {
    const s = this.queues.get(queueName);
    const period = Math.max(60, Math.round(periodSeconds / 60) * 60) * 1000;
    const out: { t: number; v: number }[] = [];
    if (!s) return { Timestamps: [], Values: [] };
    const first = Math.max(
      Math.floor(startMs / period) * period,
      Math.floor(s.firstMinute / period) * period,
    );
    for (let t = first; t < endMs; t += period) {
      const values: number[] = [];
      let counted = false;
      for (let m = t; m < t + period; m += 60_000) {
        const b = s.minutes.get(m);
        if (m > Date.now()) break;
        if (metric === 'NumberOfMessagesSent') values.push(b?.sent ?? 0);
        else if (metric === 'NumberOfMessagesReceived') values.push(b?.received ?? 0);
        else if (metric === 'NumberOfMessagesDeleted') values.push(b?.deleted ?? 0);
        else if (metric === 'ApproximateNumberOfMessagesVisible') values.push(...(b?.visible ?? []));
        else if (metric === 'ApproximateAgeOfOldestMessage') values.push(...(b?.age ?? []));
        counted = true;
      }
      if (!counted || values.length === 0 || t + period <= startMs) continue;
      out.push({ t, v: aggregate(values, stat, metric) });
    }
    return { Timestamps: out.map((p) => p.t / 1000), Values: out.map((p) => p.v) };
  }
}

function aggregate(values: number[], stat: string, metric: string): number {
  const isCount = metric.startsWith('NumberOf');
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'SampleCount':
      return values.length;
    case 'Average':
    default:
      // For the count metrics, one value a minute: the average per minute.
      return isCount || values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  }
}

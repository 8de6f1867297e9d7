// CloudWatch gateway: metric sums and series through GetMetricData (many metrics, one call).
import { GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { AwsApi } from './api.js';
import type { AwsClients } from './clients.js';

export interface MetricQuery {
  /** Unique id, lower case first letter (GetMetricData's rule). */
  id: string;
  namespace: string;
  metricName: string;
  dimensions?: Record<string, string>;
  stat: 'Sum' | 'Average' | 'Maximum' | 'Minimum' | 'SampleCount';
  periodSeconds: number;
}

export interface MetricSeries {
  id: string;
  /** Oldest first. Empty when CloudWatch has no data for the window: missing, never zero. */
  points: { at: string; value: number }[];
}

/** Reads up to 500 metrics over [start, end] in as few calls as the pages need. */
export async function getMetricSeries(
  api: AwsApi,
  clients: AwsClients,
  queries: MetricQuery[],
  start: Date,
  end: Date,
): Promise<Map<string, MetricSeries>> {
  const MetricDataQueries: MetricDataQuery[] = queries.map((q) => ({
    Id: q.id,
    ReturnData: true,
    MetricStat: {
      Metric: {
        Namespace: q.namespace,
        MetricName: q.metricName,
        Dimensions: Object.entries(q.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: q.periodSeconds,
      Stat: q.stat,
    },
  }));
  const series = new Map<string, MetricSeries>(queries.map((q) => [q.id, { id: q.id, points: [] }]));
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await api.call('cloudwatch:GetMetricData', () =>
      clients.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries,
          StartTime: start,
          EndTime: end,
          ScanBy: 'TimestampAscending',
          NextToken: token,
        }),
      ),
    );
    for (const r of out.MetricDataResults ?? []) {
      const s = series.get(r.Id ?? '');
      if (!s) continue;
      const times = r.Timestamps ?? [];
      const values = r.Values ?? [];
      for (let i = 0; i < Math.min(times.length, values.length); i++) {
        s.points.push({ at: new Date(times[i]).toISOString(), value: values[i] });
      }
    }
    token = out.NextToken;
    pages++;
  } while (token && pages < 50);
  for (const s of series.values()) s.points.sort((a, b) => a.at.localeCompare(b.at));
  return series;
}

/** The sum of a series, or undefined when there were no data points at all. */
export function seriesSum(s: MetricSeries | undefined): number | undefined {
  if (!s || s.points.length === 0) return undefined;
  return s.points.reduce((n, p) => n + p.value, 0);
}

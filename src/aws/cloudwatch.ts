// CloudWatch gateway: metric sums and series through GetMetricData (many metrics, one call).
import { GetMetricDataCommand, ListMetricsCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { pages, type AwsApi } from './api.js';
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

// GetMetricData takes at most 500 queries a call (API_GetMetricData, MetricDataQueries).
const MAX_QUERIES_PER_CALL = 500;

/** Reads any number of metrics over [start, end], 500 to a call, in as few calls as the pages need. */
export async function getMetricSeries(
  api: AwsApi,
  clients: AwsClients,
  queries: MetricQuery[],
  start: Date,
  end: Date,
): Promise<Map<string, MetricSeries>> {
  const series = new Map<string, MetricSeries>();
  for (let i = 0; i < queries.length; i += MAX_QUERIES_PER_CALL) {
    const part = await getMetricSeriesChunk(
      api,
      clients,
      queries.slice(i, i + MAX_QUERIES_PER_CALL),
      start,
      end,
    );
    for (const [id, s] of part) series.set(id, s);
  }
  return series;
}

async function getMetricSeriesChunk(
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
  for await (const out of pages('cloudwatch:GetMetricData', (NextToken) =>
    api.call('cloudwatch:GetMetricData', () =>
      clients.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries,
          StartTime: start,
          EndTime: end,
          ScanBy: 'TimestampAscending',
          NextToken,
        }),
      ),
    ),
  )) {
    for (const r of out.MetricDataResults ?? []) {
      const s = series.get(r.Id ?? '');
      if (!s) continue;
      const times = r.Timestamps ?? [];
      const values = r.Values ?? [];
      for (let i = 0; i < Math.min(times.length, values.length); i++) {
        s.points.push({ at: new Date(times[i]).toISOString(), value: values[i] });
      }
    }
  }
  for (const s of series.values()) s.points.sort((a, b) => a.at.localeCompare(b.at));
  return series;
}

/** The sum of a series, or undefined when there were no data points at all. */
export function seriesSum(s: MetricSeries | undefined): number | undefined {
  if (!s || s.points.length === 0) return undefined;
  return s.points.reduce((n, p) => n + p.value, 0);
}

/**
 * Every dimension combination a metric is published under in the namespace (ListMetrics, every
 * page). CloudWatch treats each combination as its own metric: a query without dimensions does not
 * see data published with them (GetMetricStatistics, Dimensions). An empty combination is the
 * metric published without dimensions. ListMetrics lists metrics with data in the past two weeks.
 */
export async function listMetricDimensions(
  api: AwsApi,
  clients: AwsClients,
  namespace: string,
  metricName: string,
): Promise<Record<string, string>[]> {
  const found = new Map<string, Record<string, string>>();
  // 500 metrics a page (API_ListMetrics).
  for await (const out of pages('cloudwatch:ListMetrics', (NextToken) =>
    api.call('cloudwatch:ListMetrics', () =>
      clients.cloudwatch.send(
        new ListMetricsCommand({ Namespace: namespace, MetricName: metricName, NextToken }),
      ),
    ),
  )) {
    for (const m of out.Metrics ?? []) {
      if (m.MetricName !== undefined && m.MetricName !== metricName) continue;
      const dims: Record<string, string> = {};
      for (const d of m.Dimensions ?? []) if (d.Name) dims[d.Name] = d.Value ?? '';
      const key = JSON.stringify(Object.entries(dims).sort(([a], [b]) => a.localeCompare(b)));
      found.set(key, dims);
    }
  }
  return [...found.values()];
}

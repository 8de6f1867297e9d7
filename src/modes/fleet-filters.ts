// The EC2 filters a later mode discovers the fleet with: the ones the deployment was planned with.
import { Input } from '../constants.js';
import { warn, type ModeContext } from '../context.js';
import { parseFilters, type Ec2Filter } from '../inputs.js';
import type { DeploymentRecord } from '../record.js';

/** The filters the deployment was planned with (the record's), unless the record has none. */
export function deploymentFilters(ctx: ModeContext, record: DeploymentRecord): Ec2Filter[] {
  const input = ctx.inputs.instanceFilters;
  if (!record.fleet || record.fleet.filters.length === 0) return input;
  const fromRecord = parseFilters(Input.Record, record.fleet.filters.join('\n'));
  const show = (fs: Ec2Filter[]) => fs.map((f) => `${f.Name}=${f.Values.join(',')}`).join('; ');
  if (show(fromRecord) !== show(input)) {
    warn(
      ctx,
      record,
      `using the record's instance filters (${show(fromRecord)}), not '${Input.InstanceFilters}' (${show(input)})`,
    );
  }
  return fromRecord;
}

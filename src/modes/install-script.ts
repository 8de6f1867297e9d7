// The fix's install script, one for the canary and every rollout batch: the same target, the same
// artifact, so rollout installs exactly what the canary proved.
import type { ModeContext } from '../context.js';
import type { DeploymentRecord } from '../record.js';
import { buildInstallScript } from '../remote/scripts.js';

export function deploymentInstallScript(
  ctx: ModeContext,
  opts: { record: DeploymentRecord; artifact: { s3Uri: string; sha256: string }; region: string },
): string {
  const { inputs } = ctx;
  return buildInstallScript({
    deploymentId: opts.record.deploymentId,
    serviceName: inputs.serviceName,
    workerDir: inputs.workerDir,
    targetFile: inputs.targetFile,
    artifactS3Uri: opts.artifact.s3Uri,
    sha256: opts.artifact.sha256,
    region: opts.region,
  });
}

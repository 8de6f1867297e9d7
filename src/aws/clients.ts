// The one factory for AWS clients. Region and user agent are set here; AWS_ENDPOINT_URL (read by
// the SDK itself) is how the emulator tests reach moto_server, with no test-only branch in src/.
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { USER_AGENT } from '../constants.js';

export interface AwsClients {
  sts: STSClient;
  sqs: SQSClient;
  s3: S3Client;
  ec2: EC2Client;
  ssm: SSMClient;
  cloudwatch: CloudWatchClient;
  autoscaling: AutoScalingClient;
  sns: SNSClient;
}

export function createClients(region: string, version: string): AwsClients {
  const config = {
    region,
    // Retries live in AwsApi.call (bounded, jittered, injectable sleep); one attempt here.
    maxAttempts: 1,
    customUserAgent: [[USER_AGENT, version]] as [string, string][],
  };
  return {
    sts: new STSClient(config),
    // The SDK would otherwise send each request to the host of the QueueUrl it carries: a forged
    // record or a mistyped queue-url would get signed requests, session token included, elsewhere.
    sqs: new SQSClient({ ...config, useQueueUrlAsEndpoint: false }),
    // Path-style keeps bucket names with dots working and lets the emulator serve S3 on loopback.
    s3: new S3Client({ ...config, forcePathStyle: true }),
    ec2: new EC2Client(config),
    ssm: new SSMClient(config),
    cloudwatch: new CloudWatchClient(config),
    autoscaling: new AutoScalingClient(config),
    sns: new SNSClient(config),
  };
}

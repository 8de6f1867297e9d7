// What the action reads of the AWS world, as plain data: the shapes the gateways (src/aws) return
// and the decisions (src/logic) judge. Neutral ground, so that gateways import nothing from the
// decisions and the decisions import no AWS code: both import these types from here.

/** One running instance of the fleet, as discovery reads it (DescribeInstances). */
export interface FleetInstance {
  id: string;
  privateIp?: string;
  zone?: string;
  launchTime?: string;
  name?: string;
}

/** One instance of the fleet as verify reads it now. */
export interface FleetMemberNow {
  id: string;
  /** The AMI it was launched from (DescribeInstances ImageId). */
  imageId?: string;
  /** Its emergency-deploy:deployment-id tag, if any. */
  deploymentTag?: string;
  /** Its place in the Auto Scaling group, when the deployment names one. */
  group?: { lifecycle?: string; launchTemplateVersion?: string };
}

/** What EC2 said about an instance that carries this deployment's tag. */
export interface TaggedInstance {
  id: string;
  /** EC2 state name: pending, running, stopping, stopped, shutting-down (terminated are not listed). */
  state: string;
  /** The backup-path tag, when the instance has one. */
  backupPath?: string;
  /** The artifact-sha256 tag (untrusted: checked before use). */
  artifactSha256?: string;
}

/** One of a bucket's event notification configurations (GetBucketNotificationConfiguration). */
export interface NotificationConfig {
  id: string;
  kind: 'queue' | 'topic' | 'function';
  target: string;
  events: string[];
  prefix: string;
  suffix: string;
}

/** One message read without deleting it: no receipt handle is kept, so nothing can delete it. */
export interface PeekedMessage {
  messageId: string;
  /** SentTimestamp: when it was sent to the source queue (kept when it moves to the DLQ). */
  sentAt: number;
  /** ApproximateFirstReceiveTimestamp, when asked for and given. */
  firstReceivedAt?: number;
  /** ApproximateReceiveCount: how often it was received, this read included. */
  receiveCount?: number;
}

/** A peeked message with its body (the redrive review reads what the messages say). */
export interface PeekedMessageWithBody extends PeekedMessage {
  body: string;
}

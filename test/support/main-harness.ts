// Runs src/main.ts `run()` as the bundle does, with every AWS client mocked (aws-sdk-client-mock on
// the client instances), a fake clock and an in-memory reporter: for tests that must see every
// call any mode could send, on every client.
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { run } from '../../src/main.js';
import { MemoryReporter, fakeRuntime } from './fakes.js';
import { reader, TEST_GITHUB, type RawInputs } from './context.js';

export type ClientName = keyof AwsClients;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyStub = AwsStub<any, any, any>;

export interface SentCall {
  client: ClientName;
  /** The SDK command's name without "Command", e.g. DescribeInstances */
  operation: string;
  input: unknown;
}

export function mainHarness(raw: RawInputs, opts: { env?: NodeJS.ProcessEnv } = {}) {
  const clients = createClients('ap-northeast-1', 'test');
  const mocks = Object.fromEntries(
    Object.entries(clients).map(([name, client]) => [name, mockClient(client as never) as AnyStub]),
  ) as Record<ClientName, AnyStub>;
  const report = new MemoryReporter();
  const runtime = fakeRuntime();
  const failures: string[] = [];
  const summaries: string[] = [];
  const go = () =>
    run({
      readInput: reader(raw),
      env: opts.env ?? {},
      runtime: () => runtime,
      clients: () => clients,
      report,
      writeSummary: async (md) => {
        summaries.push(md);
      },
      setFailed: (m) => failures.push(m),
      github: () => TEST_GITHUB,
    });
  /** Every command sent to any client, in the order each client saw them. */
  const calls = (): SentCall[] =>
    (Object.entries(mocks) as [ClientName, AnyStub][]).flatMap(([client, stub]) =>
      stub.calls().map((c) => {
        const command = c.args[0] as { constructor: { name: string }; input: unknown };
        return { client, operation: command.constructor.name.replace(/Command$/, ''), input: command.input };
      }),
    );
  return { go, report, runtime, failures, summaries, mocks, clients, calls };
}

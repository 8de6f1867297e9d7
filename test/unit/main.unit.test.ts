import { mockClient } from 'aws-sdk-client-mock';
import { createClients } from '../../src/aws/clients.js';
import { run } from '../../src/main.js';
import { MemoryReporter, fakeRuntime } from '../support/fakes.js';
import { reader, TEST_GITHUB, type RawInputs } from '../support/context.js';

function harness(raw: RawInputs) {
  const clients = createClients('ap-northeast-1', 'test');
  const mocks = Object.values(clients).map((c) => mockClient(c as never));
  const report = new MemoryReporter();
  const failures: string[] = [];
  const summaries: string[] = [];
  let clientsBuilt = 0;
  const go = () =>
    run({
      readInput: reader(raw),
      env: {},
      runtime: () => fakeRuntime(),
      clients: () => {
        clientsBuilt++;
        return clients;
      },
      report,
      writeSummary: async (md) => {
        summaries.push(md);
      },
      setFailed: (m) => failures.push(m),
      github: () => TEST_GITHUB,
    });
  return { go, report, failures, summaries, mocks, clientsBuilt: () => clientsBuilt };
}

describe('main.run', () => {
  it('refuses a bad input before building any client or calling AWS', async () => {
    const h = harness({
      mode: 'preflight',
      region: 'ap-northeast-1',
      'queue-name': 'x',
      'service-name': "a'; reboot; '",
    });
    await h.go();
    expect(h.failures).toEqual([expect.stringContaining("Input 'service-name'")]);
    expect(h.clientsBuilt()).toBe(0);
    for (const m of h.mocks) expect(m.calls()).toHaveLength(0);
    expect(h.report.outputs.verdict).toBe('fail');
    expect(h.summaries[0]).toContain('Deployment step failed');
  });

  it('refuses an unknown mode with the list of modes', async () => {
    const h = harness({ mode: 'yolo', region: 'ap-northeast-1' });
    await h.go();
    expect(h.failures[0]).toBe(
      'Input \'mode\' must be one of preflight, canary, rollout, verify, rollback, redrive; got "yolo"',
    );
  });

  it('escapes the error text in the summary', async () => {
    const h = harness({ mode: '<script>', region: 'ap-northeast-1' });
    await h.go();
    expect(h.summaries[0]).not.toContain('<script>');
  });
});

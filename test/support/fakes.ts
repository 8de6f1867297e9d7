// Test fakes for the runtime and the reporter. They live beside the tests, never in src/, so
// nothing test-only is bundled into dist/.
import type { OutputName } from '../../src/constants.js';
import type { Reporter } from '../../src/report.js';
import type { Clock, Runtime, Sleep } from '../../src/runtime.js';

/** A clock that only moves when slept on: tests run windows of hours in microseconds. */
export class FakeClock implements Clock {
  private t: number;
  readonly sleeps: number[] = [];
  constructor(start = Date.parse('2026-11-29T00:00:00Z')) {
    this.t = start;
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  readonly sleep: Sleep = async (ms) => {
    this.sleeps.push(ms);
    this.t += ms;
  };
}

export function fakeRuntime(clock = new FakeClock()): Runtime & { clock: FakeClock; cancel(): void } {
  let stop = false;
  return { clock, sleep: clock.sleep, cancelled: () => stop, cancel: () => (stop = true) };
}

export class MemoryReporter implements Reporter {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  readonly outputs: Partial<Record<OutputName, string>> = {};
  readonly outputWrites: OutputName[] = [];
  info(message: string): void {
    this.lines.push(message);
  }
  warning(message: string): void {
    this.warnings.push(message);
    this.lines.push(`warning: ${message}`);
  }
  error(message: string): void {
    this.errors.push(message);
    this.lines.push(`error: ${message}`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`::group::${name}`);
    try {
      return await fn();
    } finally {
      this.lines.push('::endgroup::');
    }
  }
  setOutput(name: OutputName, value: string): void {
    this.outputs[name] = value;
    this.outputWrites.push(name);
  }
}

// What a mode tells the world: log lines, grouped log sections, outputs and the job summary.
// main.ts backs it with @actions/core; tests use MemoryReporter (test/support/fakes.ts).
import type { OutputName } from './constants.js';

export interface Reporter {
  info(message: string): void;
  warning(message: string): void;
  /** An error annotation that does not fail the step (optional: a warning stands in). */
  error?(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  setOutput(name: OutputName, value: string): void;
}

// What a mode tells the world: log lines, grouped log sections, outputs and the job summary.
// main.ts backs it with @actions/core; tests use MemoryReporter.
import type { OutputName } from './constants.js';

export interface Reporter {
  info(message: string): void;
  warning(message: string): void;
  /** An error annotation that does not fail the step (optional: a warning stands in). */
  error?(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  setOutput(name: OutputName, value: string): void;
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

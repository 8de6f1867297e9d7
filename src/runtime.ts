// Time is injected: production uses the real clock and timers; tests use test/support/fakes.ts,
// whose clock's sleep advances time instantly. Every wait in the action goes through Runtime.sleep and is bounded.

export interface Clock {
  now(): Date;
}

export type Sleep = (ms: number) => Promise<void>;

export interface Runtime {
  clock: Clock;
  sleep: Sleep;
  /** Set when the process was asked to stop (SIGINT/SIGTERM): start no new work. */
  cancelled(): boolean;
}

export const systemClock: Clock = { now: () => new Date() };
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The production runtime. SIGINT/SIGTERM (a cancelled workflow run) set the cancelled flag and
 * wake every pending sleep, so a mode notices at once, sends no new work, writes its record and
 * exits non-zero.
 */
export function systemRuntime(proc: NodeJS.Process = process): Runtime {
  let stop = false;
  const wakers = new Set<() => void>();
  const onSignal = (signal: string) => {
    if (!stop) proc.stderr.write(`Received ${signal}: finishing in-flight work, starting nothing new.\n`);
    stop = true;
    for (const wake of wakers) wake();
  };
  proc.once('SIGINT', () => onSignal('SIGINT'));
  proc.once('SIGTERM', () => onSignal('SIGTERM'));
  const sleep: Sleep = (ms) =>
    new Promise((resolve) => {
      if (stop) return resolve();
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });
  return { clock: systemClock, sleep, cancelled: () => stop };
}

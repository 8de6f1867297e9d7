// One simulated instance of the twin (a stand-in, not EC2): a root directory of its own holding the
// worker's file and /run/emergency-deploy, a systemd stand-in supervising one unit, and a journal
// of that unit's real output. The action's scripts reach the unit through twin/bin/systemctl and
// twin/bin/journalctl, which call back into this object over the twin's loopback control endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface UnitConfig {
  /** systemd unit name (file-processor). */
  name: string;
  workerDir: string;
  targetFile: string;
  /** Environment of the unit's process (queue name, endpoint). */
  env: Record<string, string>;
  /** TimeoutStopSec: SIGKILL after this long (systemd's default is 90 s; the twin bounds it). */
  stopTimeoutMs: number;
  /** RestartSec (systemd's default is 100 ms). */
  restartMs: number;
  /** StartLimitBurst within StartLimitIntervalSec (systemd: 5 in 10 s). */
  startLimitBurst: number;
  startLimitIntervalMs: number;
  /**
   * The service runs inside the twin, with no process of its own (the bench's large fleets: a
   * thousand Python processes would measure Python, not the twin). It starts, stops and restarts
   * with the same states, PIDs and journal lines from systemd, and logs nothing itself.
   */
  inTwin?: boolean;
}

/** PIDs of in-twin services: above any real PID (pid_max is at most 2^22). */
let nextInTwinPid = 5_000_000;

export interface JournalEntry {
  /** realtime, microseconds since the epoch */
  usec: number;
  /** CLOCK_MONOTONIC microseconds, what `journalctl -o short-monotonic` prints */
  mono: number;
  pid: number;
  identifier: string;
  message: string;
}

type ActiveState = 'active' | 'activating' | 'deactivating' | 'inactive' | 'failed';

/** Microseconds of CLOCK_MONOTONIC, what systemd's *Monotonic properties are measured in. */
export function monotonicUsec(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** systemd's timestamp format: "Tue 2026-12-01 10:32:37 UTC" (format_timestamp, local time). */
export function systemdTimestamp(usec: number): string {
  if (!usec) return '';
  const d = new Date(usec / 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const p = (n: number) => String(n).padStart(2, '0');
  const tz =
    Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
      .formatToParts(d)
      .find((x) => x.type === 'timeZoneName')?.value ?? 'UTC';
  return `${day} ${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${tz === 'GMT' ? 'UTC' : tz}`;
}

const MAX_JOURNAL = 20_000;

export class SimInstance {
  readonly root: string;
  readonly journal: JournalEntry[] = [];
  /** PingStatus DescribeInstanceInformation reports: Online until the agent is dropped. */
  pingStatus: 'Online' | 'ConnectionLost' | 'Inactive' = 'Online';
  /**
   * The agent is registered with SSM (a managed node). Unregistered (deregistered, or never
   * registered): absent from DescribeInstanceInformation, and SendCommand naming it fails with
   * InvalidInstanceId ("SSM Agent isn't registered with the SSM endpoint", SSM API Reference,
   * SendCommand, Errors: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html).
   */
  registered = true;
  private child: ChildProcess | undefined;
  private state: ActiveState = 'inactive';
  private subState = 'dead';
  private mainPid = 0;
  private nRestarts = 0;
  private execMainStartUsec = 0;
  private execMainStartMono = 0;
  private execMainExitStatus = 0;
  private starts: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private stopWaiters: (() => void)[] = [];
  private stopping = false;
  /** An in-twin service is running (there is no child process to hold that fact). */
  private inTwinRunning = false;
  private readonly journalFile: string;

  constructor(
    readonly instanceId: string,
    baseDir: string,
    readonly unit: UnitConfig,
    initialWorker: string,
  ) {
    this.root = join(baseDir, instanceId);
    mkdirSync(join(this.root, unit.workerDir.slice(1)), { recursive: true });
    mkdirSync(join(this.root, 'run/emergency-deploy'), { recursive: true });
    mkdirSync(join(this.root, 'var/log'), { recursive: true });
    this.journalFile = join(this.root, 'var/log/journal.log');
    writeFileSync(this.workerPath(), initialWorker, { mode: 0o644 });
  }

  /** Where the worker's file lives on the host (the instance's worker-dir/target-file). */
  workerPath(): string {
    return join(this.root, this.unit.workerDir.slice(1), this.unit.targetFile);
  }

  private log(pid: number, identifier: string, message: string): void {
    const entry = { usec: Date.now() * 1000, mono: monotonicUsec(), pid, identifier, message };
    this.journal.push(entry);
    if (this.journal.length > MAX_JOURNAL) this.journal.splice(0, this.journal.length - MAX_JOURNAL);
    try {
      appendFileSync(
        this.journalFile,
        `${new Date(entry.usec / 1000).toISOString()} ${identifier}[${pid}]: ${message}\n`,
      );
    } catch {
      // the journal file is for people reading the twin's root; the in-memory journal is what counts
    }
  }

  /** Starts the unit's main process from the file in place now (ExecStart=python3 <file>). */
  start(): void {
    if (this.child) return;
    clearTimeout(this.restartTimer);
    const now = Date.now();
    this.starts = this.starts.filter((t) => now - t < this.unit.startLimitIntervalMs);
    if (this.starts.length >= this.unit.startLimitBurst) {
      this.state = 'failed';
      this.subState = 'failed';
      this.log(1, 'systemd', `${this.unit.name}.service: Start request repeated too quickly.`);
      this.log(1, 'systemd', `Failed to start ${this.unit.name}.service.`);
      return;
    }
    this.starts.push(now);
    if (this.unit.inTwin) {
      if (this.inTwinRunning) return;
      this.inTwinRunning = true;
      this.mainPid = nextInTwinPid++;
      this.execMainStartUsec = Date.now() * 1000;
      this.execMainStartMono = monotonicUsec();
      this.state = 'active';
      this.subState = 'running';
      this.log(1, 'systemd', `Started ${this.unit.name}.service.`);
      return;
    }
    const child = spawn('python3', ['-u', this.workerPath()], {
      cwd: join(this.root, this.unit.workerDir.slice(1)),
      env: { ...process.env, ...this.unit.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.mainPid = child.pid ?? 0;
    this.execMainStartUsec = Date.now() * 1000;
    this.execMainStartMono = monotonicUsec();
    this.state = 'active';
    this.subState = 'running';
    this.log(1, 'systemd', `Started ${this.unit.name}.service.`);
    const pid = this.mainPid;
    const lines = (stream: NodeJS.ReadableStream | null) => {
      let buf = '';
      stream?.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          this.log(pid, 'python3', buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      stream?.on('end', () => buf && this.log(pid, 'python3', buf));
    };
    lines(child.stdout);
    lines(child.stderr);
    child.on('exit', (code, signal) => this.exited(child, code, signal));
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.mainPid = 0;
    this.execMainExitStatus = code ?? 0;
    const how = signal ? `code=killed, status=${signal}` : `code=exited, status=${code}`;
    if (this.stopping) {
      this.stopping = false;
      this.state = 'inactive';
      this.subState = 'dead';
      this.log(1, 'systemd', `${this.unit.name}.service: Deactivated successfully.`);
      this.log(1, 'systemd', `Stopped ${this.unit.name}.service.`);
      for (const w of this.stopWaiters.splice(0)) w();
      return;
    }
    // Restart=on-failure: a non-zero exit or a signal restarts after RestartSec, counted in NRestarts.
    const failed = signal !== null || code !== 0;
    this.log(
      1,
      'systemd',
      `${this.unit.name}.service: Main process exited, ${how}${failed ? '/FAILURE' : ''}`,
    );
    if (!failed) {
      this.state = 'inactive';
      this.subState = 'dead';
      return;
    }
    this.log(1, 'systemd', `${this.unit.name}.service: Failed with result 'exit-code'.`);
    this.state = 'activating';
    this.subState = 'auto-restart';
    this.restartTimer = setTimeout(() => {
      this.nRestarts++;
      this.log(
        1,
        'systemd',
        `${this.unit.name}.service: Scheduled restart job, restart counter is at ${this.nRestarts}.`,
      );
      this.start();
    }, this.unit.restartMs);
  }

  /** systemctl stop: SIGTERM, SIGKILL after the stop timeout; resolves once the process is gone. */
  stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    if (this.inTwinRunning) {
      // An in-twin service ends at once on SIGTERM, as the stand-in workers do.
      this.inTwinRunning = false;
      this.log(1, 'systemd', `Stopping ${this.unit.name}.service...`);
      this.mainPid = 0;
      this.execMainExitStatus = 0;
      this.state = 'inactive';
      this.subState = 'dead';
      this.log(1, 'systemd', `${this.unit.name}.service: Deactivated successfully.`);
      this.log(1, 'systemd', `Stopped ${this.unit.name}.service.`);
      return Promise.resolve();
    }
    const child = this.child;
    if (!child) {
      if (this.state !== 'failed') {
        this.state = 'inactive';
        this.subState = 'dead';
      }
      return Promise.resolve();
    }
    this.stopping = true;
    this.state = 'deactivating';
    this.subState = 'stop-sigterm';
    this.log(1, 'systemd', `Stopping ${this.unit.name}.service...`);
    const done = new Promise<void>((r) => this.stopWaiters.push(r));
    child.kill('SIGTERM');
    const killer = setTimeout(() => {
      this.log(1, 'systemd', `${this.unit.name}.service: State 'stop-sigterm' timed out. Killing.`);
      child.kill('SIGKILL');
    }, this.unit.stopTimeoutMs);
    return done.finally(() => clearTimeout(killer));
  }

  /** systemctl restart: a manual restart resets the start limit and NRestarts, as systemd does. */
  async restart(): Promise<void> {
    await this.stop();
    this.nRestarts = 0;
    this.starts = [];
    this.start();
  }

  property(name: string): string | undefined {
    switch (name) {
      case 'ActiveState':
        return this.state;
      case 'SubState':
        return this.subState;
      case 'MainPID':
        return String(this.mainPid);
      case 'NRestarts':
        return String(this.nRestarts);
      case 'ExecMainStartTimestamp':
        return systemdTimestamp(this.execMainStartUsec);
      case 'ExecMainStartTimestampMonotonic':
        return String(this.execMainStartMono);
      case 'ExecMainPID':
        return String(this.mainPid);
      case 'ExecMainStatus':
        return String(this.execMainExitStatus);
      case 'Id':
        return `${this.unit.name}.service`;
      case 'LoadState':
        return 'loaded';
      case 'Restart':
        return 'on-failure';
      default:
        return undefined;
    }
  }

  isUnit(name: string): boolean {
    return name === this.unit.name || name === `${this.unit.name}.service`;
  }

  activeState(): ActiveState {
    return this.state;
  }

  hostName(): string {
    return `ip-${this.instanceId.slice(2, 10)}`;
  }

  /** Stops the unit for good (the twin is shutting down or the instance left the fleet). */
  async shutdown(): Promise<void> {
    clearTimeout(this.restartTimer);
    await this.stop();
  }
}

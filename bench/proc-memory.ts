// Memory of the twin and its instances, read from /proc (Linux): the bench runs the twin in its own
// process, so "the twin and its instances" is this process plus every process below it (instance
// scripts, their `aws` CLI runs, worker processes where there are any), less the subtrees that are
// not the twin's: moto_server (the emulator) and the action's own node process. Measured, not
// estimated: VmRSS of each process as the kernel reports it (shared pages are counted once per
// process, so the sum is an upper bound).
import { readdirSync, readFileSync } from 'node:fs';

interface Proc {
  pid: number;
  ppid: number;
  rssKb: number;
  cmdline: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields after it are fixed.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return { pid, ppid: Number(after[1]), rssKb: rss ? Number(rss[1]) : 0, cmdline };
  } catch {
    return undefined; // gone between the listing and the read
  }
}

function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

export interface TreeMemory {
  /** The bench process itself, where the twin runs (MiB). */
  selfMb: number;
  /** Every process below it, less the excluded subtrees (MiB). */
  childrenMb: number;
  childCount: number;
  /** moto_server's subtree (MiB), reported apart: it is the emulator, not the twin. */
  motoMb: number;
}

/** One reading. `isMoto` picks moto_server's process; `exclude` are other subtrees to leave out. */
export function readTreeMemory(
  root: number,
  isMoto: (cmdline: string) => boolean,
  exclude: Set<number>,
): TreeMemory {
  const procs = allProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const self = procs.find((p) => p.pid === root);
  let childrenKb = 0;
  let childCount = 0;
  let motoKb = 0;
  const walk = (pid: number, into: 'twin' | 'moto') => {
    for (const c of children.get(pid) ?? []) {
      if (exclude.has(c.pid)) continue;
      const moto = into === 'moto' || isMoto(c.cmdline);
      if (moto) motoKb += c.rssKb;
      else {
        childrenKb += c.rssKb;
        childCount++;
      }
      walk(c.pid, moto ? 'moto' : 'twin');
    }
  };
  walk(root, 'twin');
  return {
    selfMb: (self?.rssKb ?? 0) / 1024,
    childrenMb: childrenKb / 1024,
    childCount,
    motoMb: motoKb / 1024,
  };
}

/** Samples readTreeMemory every `everyMs` and keeps the peaks until stopped. */
export class MemorySampler {
  peak = { selfMb: 0, childrenMb: 0, totalMb: 0, childCount: 0, motoMb: 0 };
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly root: number,
    private readonly isMoto: (cmdline: string) => boolean,
    readonly exclude: Set<number>,
  ) {}

  sample(): void {
    const m = readTreeMemory(this.root, this.isMoto, this.exclude);
    this.samples++;
    this.peak.selfMb = Math.max(this.peak.selfMb, m.selfMb);
    this.peak.childrenMb = Math.max(this.peak.childrenMb, m.childrenMb);
    this.peak.totalMb = Math.max(this.peak.totalMb, m.selfMb + m.childrenMb);
    this.peak.childCount = Math.max(this.peak.childCount, m.childCount);
    this.peak.motoMb = Math.max(this.peak.motoMb, m.motoMb);
  }

  start(everyMs = 500): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): MemorySampler['peak'] {
    clearInterval(this.timer);
    this.sample();
    return { ...this.peak };
  }
}

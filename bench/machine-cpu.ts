/**
 * The whole machine's CPU time from /proc/stat, so a bench can say how busy the machine was during a run and how much
 * of its time the hypervisor took for other guests ("steal"). On these virtual machines steal reaches 10–40 % under
 * load: the cores a bench counts on are then partly absent, and latency tails follow.
 */
import fs from 'node:fs';

/** Clock ticks summed over all cores. */
export interface MachineCpu {
  /** Time spent running anything (user, nice, system, irq, softirq). */
  busy: number;
  /** Idle, including waiting for I/O. */
  idle: number;
  /** Time the hypervisor ran another guest while this one wanted the core. */
  steal: number;
}

/** Parses the aggregate `cpu` line of /proc/stat (guest time is already inside user and nice, so it is not added). */
export function parseProcStat(text: string): MachineCpu {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat has no aggregate "cpu" line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 8 || f.slice(0, 8).some((v) => !Number.isFinite(v)))
    throw new Error(`/proc/stat "cpu" line has fewer than 8 numeric fields: ${line}`);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

/** The machine's CPU times now; undefined where /proc/stat is unavailable (not Linux). */
export function machineCpu(): MachineCpu | undefined {
  try {
    return parseProcStat(fs.readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** "machine busy 71 %, stolen 18 %" between two readings, as shares of all the machine's time. */
export function describeMachineCpu(a: MachineCpu | undefined, b: MachineCpu | undefined): string {
  if (!a || !b) return 'machine CPU n/a';
  const busy = b.busy - a.busy;
  const steal = b.steal - a.steal;
  const total = busy + steal + (b.idle - a.idle);
  if (total <= 0) return 'machine CPU n/a';
  const pct = (v: number) => `${Math.round((v / total) * 100)} %`;
  return `machine busy ${pct(busy)}, stolen by the hypervisor ${pct(steal)}`;
}

/**
 * The whole machine's CPU time from /proc/stat, so a bench can say how much of a run's time the hypervisor took for
 * other guests ("steal"). On these virtual machines steal has reached 10–40 % under load: the cores a bench counts on
 * are then partly absent, and latency tails follow. Busy and idle time in /proc/stat are sampled at timer ticks and
 * undercount short bursts (a run at 250 req/s showed 19 % busy where its processes' own precise counters added up to
 * 31 %), so only steal, which the hypervisor's clock measures, is reported.
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

/** "CPU stolen by the hypervisor: 18 %" between two readings, as a share of all the machine's time. */
export function describeSteal(a: MachineCpu | undefined, b: MachineCpu | undefined): string {
  if (!a || !b) return 'CPU stolen by the hypervisor: n/a';
  const steal = b.steal - a.steal;
  const total = b.busy - a.busy + steal + (b.idle - a.idle);
  if (total <= 0) return 'CPU stolen by the hypervisor: n/a';
  return `CPU stolen by the hypervisor: ${Math.round((steal / total) * 100)} %`;
}

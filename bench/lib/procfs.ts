/**
 * Per-process CPU time and memory from /proc (Linux), read directly because these are two fields
 * of two text files; a library would add nothing.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux build we run on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of the process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; the fields after its closing ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** A `Vm*:` line of /proc/<pid>/status, in MiB. */
function statusMiB(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${key}`);
  return Number(match[1]) / 1024;
}

/** Peak resident set size so far. */
export const peakRssMiB = (pid: number): number => statusMiB(pid, 'VmHWM');
/** Resident set size now. */
export const rssMiB = (pid: number): number => statusMiB(pid, 'VmRSS');

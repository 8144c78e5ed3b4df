import { describe, expect, it } from 'vitest';
import { machineCpuSeconds, processesCpuSeconds } from './proc-cpu.js';

describe('CPU time from /proc', () => {
  it("counts this process's CPU, and 0 for a pid that does not exist", () => {
    const before = processesCpuSeconds([process.pid]);
    const until = process.cpuUsage().user + 50_000;
    while (process.cpuUsage().user < until); // 50 ms of CPU, more than one tick
    expect(processesCpuSeconds([process.pid])).toBeGreaterThan(before);
    expect(processesCpuSeconds([2 ** 22 + 1])).toBe(0);
  });

  it("gives the machine's busy seconds within its total", () => {
    const first = machineCpuSeconds();
    expect(first.busy).toBeGreaterThan(0);
    expect(first.busy).toBeLessThanOrEqual(first.total);
  });
});

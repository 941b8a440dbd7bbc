import { describeSteal, parseProcStat } from '../../bench/machine-cpu';

const STAT = (user: number, idle: number, steal: number) =>
  `cpu  ${user} 0 100 ${idle} 50 0 10 ${steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 123\n`;

test('the aggregate cpu line is read as busy, idle (with I/O wait) and steal ticks', () => {
  expect(parseProcStat(STAT(1000, 5000, 30))).toEqual({ busy: 1110, idle: 5050, steal: 30 });
});

test('a run is described by the share of all the machine time stolen between two readings', () => {
  const a = parseProcStat(STAT(1000, 5000, 0));
  // 600 busy, 200 stolen, 200 idle ticks in between.
  const b = parseProcStat(STAT(1600, 5200, 200));
  expect(describeSteal(a, b)).toBe('CPU stolen by the hypervisor: 20 %');
});

test('missing or malformed readings are named, not guessed', () => {
  expect(() => parseProcStat('intr 1 2 3\n')).toThrow('no aggregate "cpu" line');
  expect(() => parseProcStat('cpu  1 2 3\n')).toThrow('fewer than 8 numeric fields');
  expect(describeSteal(undefined, parseProcStat(STAT(1, 1, 1)))).toBe('CPU stolen by the hypervisor: n/a');
  const same = parseProcStat(STAT(1, 1, 1));
  expect(describeSteal(same, same)).toBe('CPU stolen by the hypervisor: n/a');
});

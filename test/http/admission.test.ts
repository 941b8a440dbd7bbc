/** The in-flight limit admits up to its maximum, refuses the next, and admits again as soon as one leaves. */
import { InflightLimit } from '../../src/http/admission';

describe('InflightLimit', () => {
  it('admits up to max requests at once and refuses the next until one leaves', () => {
    const limit = new InflightLimit(2);
    expect(limit.tryEnter()).toBe(true);
    expect(limit.tryEnter()).toBe(true);
    expect(limit.tryEnter()).toBe(false);
    expect(limit.inflight).toBe(2);
    limit.leave();
    expect(limit.inflight).toBe(1);
    expect(limit.tryEnter()).toBe(true);
    expect(limit.tryEnter()).toBe(false);
  });

  it('never counts below zero', () => {
    const limit = new InflightLimit(1);
    limit.leave();
    expect(limit.inflight).toBe(0);
    expect(limit.tryEnter()).toBe(true);
    expect(limit.tryEnter()).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p', (max) => {
    expect(() => new InflightLimit(max)).toThrow(RangeError);
  });
});

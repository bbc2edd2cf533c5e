import { BUILD_PHASES } from '../../src/core/build-types.js';
import { buildName, canTransition, durationNanos, isTerminal } from '../../src/core/build-phase.js';

test('a build moves forward New → Pending → Running → Complete', () => {
  expect(canTransition('New', 'Pending')).toBe(true);
  expect(canTransition('Pending', 'Running')).toBe(true);
  expect(canTransition('Running', 'Complete')).toBe(true);
});

test('no phase goes backwards, and New cannot skip to Complete', () => {
  expect(canTransition('Running', 'Pending')).toBe(false);
  expect(canTransition('Pending', 'New')).toBe(false);
  expect(canTransition('New', 'Complete')).toBe(false);
});

test('every non-terminal phase can be cancelled or end in Error; terminal phases are final', () => {
  for (const phase of BUILD_PHASES) {
    if (isTerminal(phase)) {
      for (const to of BUILD_PHASES) expect(canTransition(phase, to)).toBe(false);
    } else {
      expect(canTransition(phase, 'Cancelled')).toBe(true);
      expect(canTransition(phase, 'Error')).toBe(true);
    }
  }
  expect(BUILD_PHASES.filter(isTerminal)).toEqual(['Complete', 'Failed', 'Error', 'Cancelled']);
});

test('builds are named {bc}-{N} and durations are nanoseconds', () => {
  expect(buildName('web', 7)).toBe('web-7');
  expect(durationNanos('2026-01-01T00:00:00Z', '2026-01-01T00:00:02Z')).toBe(2_000_000_000);
});

/**
 * How a postCommit hook becomes a container's entrypoint and command: OpenShift's
 * rules (openshift/builder execPostCommitHook; docs "Build hooks").
 */
import { postCommitCommand } from '../../src/builders/post-commit.js';

describe('postCommitCommand', () => {
  it('no hook, or an empty one, runs nothing', () => {
    expect(postCommitCommand(undefined)).toBeUndefined();
    expect(postCommitCommand({})).toBeUndefined();
    expect(postCommitCommand({ script: '', command: [], args: [] })).toBeUndefined();
  });
  it('script runs as /bin/sh -ic script, with args as positional parameters after $0=/bin/sh', () => {
    expect(postCommitCommand({ script: 'rake test "$1"', args: ['--verbose'] })).toEqual({
      entrypoint: ['/bin/sh', '-ic'],
      cmd: ['rake test "$1"', '/bin/sh', '--verbose'],
    });
  });
  it('script wins over command', () => {
    expect(postCommitCommand({ script: 'true', command: ['/bin/false'] })?.entrypoint).toEqual([
      '/bin/sh',
      '-ic',
    ]);
  });
  it('command replaces the entrypoint and args are its arguments', () => {
    expect(postCommitCommand({ command: ['rake', 'test'], args: ['--verbose'] })).toEqual({
      entrypoint: ['rake', 'test'],
      cmd: ['--verbose'],
    });
  });
  it("args alone go to the image's own entrypoint", () => {
    expect(postCommitCommand({ args: ['bundle', 'exec', 'rake', 'test'] })).toEqual({
      cmd: ['bundle', 'exec', 'rake', 'test'],
    });
  });
});

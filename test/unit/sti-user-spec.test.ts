/** Resolving an assemble user spec inside an image, by Docker's rules. */
import { needsUserDatabase, resolveUser } from '../../src/builders/sti/user-spec.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/bash',
  'default:x:1001:0::/opt/app-root/src:/bin/bash',
  'builder:x:2345:2345::/home/builder:/bin/bash',
  '',
].join('\n');
const group = ['root:x:0:', 'staff:x:50:', 'builder:x:2345:'].join('\n');

describe('resolveUser', () => {
  it('an empty spec is root', () => {
    expect(resolveUser('', passwd)).toEqual({ uid: 0, gid: 0 });
    expect(resolveUser(undefined)).toEqual({ uid: 0, gid: 0 });
  });
  it('a name takes uid and primary gid from /etc/passwd', () => {
    expect(resolveUser('builder', passwd)).toEqual({ uid: 2345, gid: 2345 });
  });
  it('a numeric uid with an entry gets its primary gid; without one, gid 0', () => {
    expect(resolveUser('1001', passwd)).toEqual({ uid: 1001, gid: 0 });
    expect(resolveUser('2345', passwd)).toEqual({ uid: 2345, gid: 2345 });
    expect(resolveUser('4242', passwd)).toEqual({ uid: 4242, gid: 0 });
    expect(resolveUser('4242')).toEqual({ uid: 4242, gid: 0 });
  });
  it('a group part overrides the gid, by number or by name', () => {
    expect(resolveUser('builder:0', passwd)).toEqual({ uid: 2345, gid: 0 });
    expect(resolveUser('1001:staff', passwd, group)).toEqual({ uid: 1001, gid: 50 });
  });
  it("an unknown name fails with the engine's wording", () => {
    expect(() => resolveUser('nobody-here', passwd)).toThrow(
      'unable to find user nobody-here: no matching entries in passwd file',
    );
    expect(() => resolveUser('1001:nogroup', passwd, group)).toThrow('unable to find group nogroup');
  });
  it("knows when the image's files are needed at all", () => {
    expect(needsUserDatabase('1001')).toBe(false);
    expect(needsUserDatabase('1001:0')).toBe(false);
    expect(needsUserDatabase('default')).toBe(true);
    expect(needsUserDatabase('1001:staff')).toBe(true);
    expect(needsUserDatabase('')).toBe(false);
  });
});

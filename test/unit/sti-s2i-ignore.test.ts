/**
 * .s2iignore as s2i applies it (pkg/ignore/ignore.go and its tests): Go glob patterns
 * relative to the source root, not recursive, `!` reinstating earlier matches, later
 * lines winning. The cases of s2i's own ignore_test.go come first.
 */
import { createIgnoreMatcher, globToRegExp, parseS2iIgnore } from '../../src/builders/sti/s2i-ignore.js';

function matcher(text: string): (p: string) => boolean {
  return createIgnoreMatcher(parseS2iIgnore(text).rules);
}

describe('.s2iignore, the cases of s2i ignore_test.go', () => {
  it('TestSingleIgnore: a file name', () => {
    expect(matcher('foo.bar\n')('foo.bar')).toBe(true);
  });
  it('TestWildcardIgnore: foo.*', () => {
    const ignored = matcher('foo.*\n');
    expect(ignored('foo.a')).toBe(true);
    expect(ignored('foo.b')).toBe(true);
  });
  it('TestExclusion: !foo.a reinstates what foo.* matched', () => {
    const ignored = matcher('foo.*\n!foo.a');
    expect(ignored('foo.b')).toBe(true);
    expect(ignored('foo.a')).toBe(false);
  });
  it('TestSubDirs: */foo.a matches one level down only', () => {
    const ignored = matcher('*/foo.a\n');
    expect(ignored('asdf/foo.a')).toBe(true);
    expect(ignored('foo.a')).toBe(false);
    expect(ignored('a/b/foo.a')).toBe(false);
  });
  it('TestExcludeOverride: a later positive line wins over an earlier !', () => {
    const ignored = matcher('LICENCSE.*\n!LICENCSE.md\n*.md');
    expect(ignored('LICENCSE.foo')).toBe(true);
    expect(ignored('LICENCSE.md')).toBe(true);
    expect(ignored('foo.bar')).toBe(false);
  });
  it('TestExclusionWithWildcard: !foo.* keeps foo.bar', () => {
    const ignored = matcher('*.bar\n!foo.*');
    expect(ignored('boo.bar')).toBe(true);
    expect(ignored('bar.bar')).toBe(true);
    expect(ignored('foo.bar')).toBe(false);
  });
  it('TestHopelessExclusion: a ! before the positive line reinstates nothing', () => {
    expect(matcher('!LICENSE.md\nLICENSE.*')('LICENSE.md')).toBe(true);
  });
});

describe('.s2iignore, what follows from Go glob semantics', () => {
  it('a directory match drops everything under it', () => {
    const ignored = matcher('node_modules\ndocs/drafts\n');
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('node_modules/ms/index.js')).toBe(true);
    expect(ignored('docs/drafts/a.md')).toBe(true);
    expect(ignored('docs/index.md')).toBe(false);
  });
  it('is not recursive: *.log matches at the top only', () => {
    const ignored = matcher('*.log');
    expect(ignored('debug.log')).toBe(true);
    expect(ignored('logs/debug.log')).toBe(false);
  });
  it('cleans patterns as filepath.Join does: ./, trailing / and a leading / are relative to the root', () => {
    const ignored = matcher('./build/\n/dist\n');
    expect(ignored('build/out.js')).toBe(true);
    expect(ignored('dist')).toBe(true);
  });
  it('skips comments and blank lines (a blank line would otherwise match the whole source)', () => {
    const ignored = matcher('# comment\n\n   \nsecret');
    expect(ignored('secret')).toBe(true);
    expect(ignored('index.html')).toBe(false);
  });
  it('matches dotfiles with * (Go has no dotfile rule)', () => {
    expect(matcher('.*')('.env')).toBe(true);
  });
  it('supports ?, classes, negated classes and escapes', () => {
    expect(globToRegExp('file?.txt').test('file1.txt')).toBe(true);
    expect(globToRegExp('file?.txt').test('file/.txt')).toBe(false);
    expect(globToRegExp('[a-c]x').test('bx')).toBe(true);
    expect(globToRegExp('[^a-c]x').test('dx')).toBe(true);
    expect(globToRegExp('[^a-c]x').test('ax')).toBe(false);
    expect(globToRegExp('[^a]x').test('/x')).toBe(false);
    expect(globToRegExp('\\*.txt').test('*.txt')).toBe(true);
    expect(globToRegExp('\\*.txt').test('a.txt')).toBe(false);
  });
  it('reports patterns Go rejects and keeps the others', () => {
    const parsed = parseS2iIgnore('ok.txt\n[abc\n[]x]\n');
    expect(parsed.rules.map((r) => r.pattern)).toEqual(['ok.txt']);
    expect(parsed.invalid.map((i) => i.line)).toEqual([2, 3]);
  });
  it('a pattern that climbs out of the source matches nothing', () => {
    expect(parseS2iIgnore('../outside\n').rules).toEqual([]);
  });
});

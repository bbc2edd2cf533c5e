/** .s2i/environment as s2i parses it (pkg/scripts/environment.go, api EnvironmentList.Set). */
import { parseEnvironmentFile } from '../../src/builders/sti/environment-file.js';

describe('.s2i/environment', () => {
  it('reads NAME=value lines, splitting at the first =, trimming both sides', () => {
    const parsed = parseEnvironmentFile('A=1\n  B = two words \nURL=http://x/?a=b\nEMPTY=\n');
    expect(parsed.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two words' },
      { name: 'URL', value: 'http://x/?a=b' },
      { name: 'EMPTY', value: '' },
    ]);
    expect(parsed.skipped).toEqual([]);
  });
  it('skips # comments and blank lines, and reports lines that are not NAME=value', () => {
    const parsed = parseEnvironmentFile('# comment\n\nexport\n=novalue\nOK=yes\r\n');
    expect(parsed.env).toEqual([{ name: 'OK', value: 'yes' }]);
    expect(parsed.skipped).toEqual([
      { line: 3, text: 'export', problem: 'is not NAME=value' },
      { line: 4, text: '=novalue', problem: 'is not NAME=value' },
    ]);
  });
  it('skips a line whose name is not an env name the API server would accept', () => {
    const parsed = parseEnvironmentFile('GOOD=1\nBAD NAME=2\n1ST=3\nA$B=4\nmy.var-x=5\n');
    expect(parsed.env).toEqual([
      { name: 'GOOD', value: '1' },
      { name: 'my.var-x', value: '5' },
    ]);
    expect(parsed.skipped.map((s) => [s.line, s.problem.split(',')[0]])).toEqual([
      [2, 'names "BAD NAME"'],
      [3, 'names "1ST"'],
      [4, 'names "A$B"'],
    ]);
  });
  it('keeps quotes as written (s2i does not interpret them)', () => {
    expect(parseEnvironmentFile('Q="quoted value"').env).toEqual([{ name: 'Q', value: '"quoted value"' }]);
  });
});

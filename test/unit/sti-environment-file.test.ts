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
      { line: 3, text: 'export' },
      { line: 4, text: '=novalue' },
    ]);
  });
  it('keeps quotes as written (s2i does not interpret them)', () => {
    expect(parseEnvironmentFile('Q="quoted value"').env).toEqual([{ name: 'Q', value: '"quoted value"' }]);
  });
});

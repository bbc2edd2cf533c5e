import { editDockerfile } from '../../src/builders/docker/dockerfile.js';

test('the strategy from replaces only the last FROM image, keeping flags and stage names', () => {
  const text =
    'FROM golang AS build\nRUN make\nFROM --platform=linux/amd64 debian:old AS final\nCOPY --from=build /app /app\n';
  const out = editDockerfile(text, { from: 'registry.local/base:1' });
  expect(out).toContain('FROM golang AS build');
  expect(out).toContain('FROM --platform=linux/amd64 registry.local/base:1 AS final');
});

test('env lands right after the last FROM, quoted', () => {
  const out = editDockerfile('FROM a\nFROM b\nRUN x\n', { env: [{ name: 'A', value: 'has space' }] });
  expect(out.split('\n')).toEqual(['FROM a', 'FROM b', 'ENV A="has space"', 'RUN x', '']);
});

test('comments and continuation lines are not mistaken for FROM', () => {
  const out = editDockerfile('FROM a\n# FROM not-this\nRUN echo \\\n  FROM-looking-text\n', { from: 'z' });
  expect(out).toContain('FROM z');
  expect(out).toContain('# FROM not-this');
  expect(out).toContain('  FROM-looking-text');
});

test('labels are appended as one LABEL instruction', () => {
  const out = editDockerfile('FROM a', { labels: { 'io.openshift.build.commit.id': 'abc' } });
  expect(out).toBe('FROM a\nLABEL "io.openshift.build.commit.id"="abc"\n');
});

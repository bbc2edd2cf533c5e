/** The build environment's layers and their precedence. */
import { buildEnvironment } from '../../src/builders/sti/build-env.js';

describe('buildEnvironment', () => {
  const base = {
    buildName: 'web-2',
    buildNamespace: 'shop',
    source: { uri: 'https://git.example.com/web.git', ref: 'refs/heads/main', commit: 'c0ffee' },
    extraEnv: [],
    environmentFile: [],
    strategyEnv: [],
  };
  it("gives OpenShift's build information, preferring the requested git URI and ref", () => {
    expect(buildEnvironment({ ...base, gitRef: 'main' }).env).toEqual([
      'OPENSHIFT_BUILD_NAME=web-2',
      'OPENSHIFT_BUILD_NAMESPACE=shop',
      'OPENSHIFT_BUILD_SOURCE=https://git.example.com/web.git',
      'OPENSHIFT_BUILD_REFERENCE=main',
      'OPENSHIFT_BUILD_COMMIT=c0ffee',
    ]);
  });
  it('layers build defaults < build info < .s2i/environment < sourceStrategy.env', () => {
    const { env } = buildEnvironment({
      ...base,
      extraEnv: [
        { name: 'HTTP_PROXY', value: 'http://proxy:3128' },
        { name: 'LEVEL', value: 'defaults' },
      ],
      environmentFile: [
        { name: 'LEVEL', value: 'file' },
        { name: 'FROM_FILE', value: 'yes' },
      ],
      strategyEnv: [{ name: 'LEVEL', value: 'buildconfig' }],
    });
    expect(env).toContain('HTTP_PROXY=http://proxy:3128');
    expect(env).toContain('FROM_FILE=yes');
    expect(env.filter((e) => e.startsWith('LEVEL='))).toEqual(['LEVEL=buildconfig']);
  });
  it('skips valueFrom entries, which must be resolved before the build, with a warning', () => {
    const result = buildEnvironment({
      ...base,
      strategyEnv: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    });
    expect(result.env.some((e) => e.startsWith('TOKEN='))).toBe(false);
    expect(result.warnings).toEqual([
      'sourceStrategy.env: TOKEN uses valueFrom, which must be resolved before the build; skipped',
    ]);
  });
});

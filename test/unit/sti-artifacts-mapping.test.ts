/** s2i's runtime artifact mapping (docs/runtime_image.md, "Format and behavior of --runtime-artifact"). */
import { fromImageSourcePaths, parseAssembleInputFiles } from '../../src/builders/sti/artifacts-mapping.js';

describe('assemble-input-files / runtimeArtifacts', () => {
  it('reads the documented examples', () => {
    expect(parseAssembleInputFiles('/tmp/app.war')).toEqual([{ source: '/tmp/app.war', destination: '.' }]);
    expect(parseAssembleInputFiles('/tmp/app.war:.')).toEqual([{ source: '/tmp/app.war', destination: '.' }]);
    expect(parseAssembleInputFiles('/tmp/app.war:app/dist')).toEqual([
      { source: '/tmp/app.war', destination: 'app/dist' },
    ]);
    expect(parseAssembleInputFiles('/opt/data/')).toEqual([{ source: '/opt/data', destination: '.' }]);
  });
  it('separates several mappings with ;', () => {
    expect(parseAssembleInputFiles('/tmp/app.war:app;/opt/data')).toEqual([
      { source: '/tmp/app.war', destination: 'app' },
      { source: '/opt/data', destination: '.' },
    ]);
  });
  it('rejects wildcards, relative sources, absolute destinations and destinations starting with ..', () => {
    expect(() => parseAssembleInputFiles('/opt/data/*.jar')).toThrow('wildcards are not supported');
    expect(() => parseAssembleInputFiles('tmp/app.war')).toThrow('source must be an absolute path');
    expect(() => parseAssembleInputFiles('/tmp/app.war:/app')).toThrow('destination must be a relative path');
    expect(() => parseAssembleInputFiles('/tmp/app.war:../up')).toThrow("destination cannot start with '..'");
    expect(() => parseAssembleInputFiles(' ; ')).toThrow('no runtime artifacts');
  });
  it("takes OpenShift's runtimeArtifacts [{sourcePath, destinationDir}]", () => {
    expect(
      fromImageSourcePaths([
        { sourcePath: '/opt/out/app', destinationDir: 'bin' },
        { sourcePath: '/opt/cfg' },
      ]),
    ).toEqual([
      { source: '/opt/out/app', destination: 'bin' },
      { source: '/opt/cfg', destination: '.' },
    ]);
  });
});

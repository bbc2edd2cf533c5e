/** Small pure parts of the S2I builder: tags, artifact entry names, runtime paths, extension fields. */
import type { SourceBuildStrategy } from '../../src/core/build-types.js';
import { BuildFailure } from '../../src/core/errors.js';
import { splitTag } from '../../src/builders/sti/commit.js';
import { artifactEntryName } from '../../src/builders/sti/incremental.js';
import { exitHint, runtimeImageRequest } from '../../src/builders/sti/index.js';
import { mappingTarget, runtimeWorkDir } from '../../src/builders/sti/runtime-image.js';
import { archivePath } from '../../src/builders/sti/upload.js';

describe('splitTag', () => {
  it('splits at the last colon after the last slash; latest by default', () => {
    expect(splitTag('slipway-build/ns/web:latest')).toEqual({ repo: 'slipway-build/ns/web', tag: 'latest' });
    expect(splitTag('127.0.0.1:5000/ns/web:v2')).toEqual({ repo: '127.0.0.1:5000/ns/web', tag: 'v2' });
    expect(splitTag('127.0.0.1:5000/ns/web')).toEqual({ repo: '127.0.0.1:5000/ns/web', tag: 'latest' });
  });
  it('refuses digests, which cannot be a commit target', () => {
    expect(() => splitTag('reg/web@sha256:abc')).toThrow('cannot tag an image by digest');
  });
});

describe('artifactEntryName', () => {
  it('cleans names of the save-artifacts stream', () => {
    expect(artifactEntryName('./node_modules/ms/index.js')).toBe('node_modules/ms/index.js');
    expect(artifactEntryName('node_modules/')).toBe('node_modules');
    expect(artifactEntryName('./')).toBe('');
  });
  it('refuses names that would land outside DEST/artifacts', () => {
    expect(() => artifactEntryName('/etc/passwd')).toThrow('points outside the artifacts directory');
    expect(() => artifactEntryName('deps/../../etc/passwd')).toThrow('points outside');
  });
});

describe('archive paths', () => {
  it('are relative to / so that the destination need not exist', () => {
    expect(archivePath('/tmp', 'src')).toBe('tmp/src');
    expect(archivePath('/srv/s2i/in', 'scripts', 'assemble')).toBe('srv/s2i/in/scripts/assemble');
    expect(archivePath('/', 'src')).toBe('src');
  });
  it('put runtime artifacts under WORKDIR, / when the image has none', () => {
    expect(runtimeWorkDir({ WorkingDir: '' })).toBe('/');
    expect(runtimeWorkDir({ WorkingDir: '/opt/app/' })).toBe('/opt/app');
    expect(mappingTarget('/', { source: '/out/app', destination: '.' })).toBe('');
    expect(mappingTarget('/opt/app', { source: '/out/app', destination: 'bin' })).toBe('opt/app/bin');
  });
});

describe("runtimeImageRequest (Slipway's sourceStrategy.runtimeImage / runtimeArtifacts)", () => {
  const from = { kind: 'DockerImage', name: 'builder' };
  it('is undefined without runtimeImage', () => {
    expect(runtimeImageRequest({ from } as SourceBuildStrategy)).toBeUndefined();
  });
  it('reads a DockerImage reference and the optional mapping', () => {
    expect(
      runtimeImageRequest({
        from,
        runtimeImage: { kind: 'DockerImage', name: 'reg/run:1' },
        runtimeArtifacts: [{ sourcePath: '/opt/out/app', destinationDir: 'bin' }],
      } as SourceBuildStrategy),
    ).toEqual({ reference: 'reg/run:1', artifacts: [{ source: '/opt/out/app', destination: 'bin' }] });
  });
  it('needs other kinds resolved by the runner, and a runtimeImage for runtimeArtifacts', () => {
    const kind = (() => {
      try {
        runtimeImageRequest({
          from,
          runtimeImage: { kind: 'ImageStreamTag', name: 'run:1' },
        } as SourceBuildStrategy);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(kind).toBeInstanceOf(BuildFailure);
    expect((kind as BuildFailure).reason).toBe('InvalidImageReference');
    expect(() =>
      runtimeImageRequest({ from, runtimeArtifacts: [{ sourcePath: '/x' }] } as SourceBuildStrategy),
    ).toThrow('sourceStrategy.runtimeArtifacts needs sourceStrategy.runtimeImage');
  });
  it('rejects an invalid mapping with InvalidArtifactsMapping', () => {
    expect(() =>
      runtimeImageRequest({
        from,
        runtimeImage: { name: 'run' },
        runtimeArtifacts: [{ sourcePath: 'relative/path' }],
      } as SourceBuildStrategy),
    ).toThrow('source must be an absolute path');
  });
});

describe('exitHint', () => {
  it("explains exits that come from the script's form, not its work", () => {
    expect(exitHint(1, 'exec /tmp/scripts/assemble: no such file or directory')).toContain(
      '#! line does not exist',
    );
    expect(exitHint(1, 'exec /tmp/scripts/assemble: exec format error')).toContain('no #! line');
    expect(exitHint(126)).toContain('not executable');
    expect(exitHint(127)).toContain('was not found');
    expect(exitHint(2, 'make: *** [all] Error 1')).toBe('');
  });
});

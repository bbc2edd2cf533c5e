/** The S2I label contract: what a builder declares and what the output image gets. */
import {
  normalizeDestination,
  outputImageLabels,
  parseImageMetadata,
  readBuilderLabels,
} from '../../src/builders/sti/labels.js';

describe('readBuilderLabels', () => {
  it('reads scripts-url, destination and assemble-user; the destination defaults to /tmp', () => {
    expect(
      readBuilderLabels({
        Labels: {
          'io.openshift.s2i.scripts-url': 'image:///usr/libexec/s2i',
          'io.openshift.s2i.assemble-user': '1001',
          'io.openshift.s2i.assemble-input-files': '/opt/app.jar',
        },
      }),
    ).toEqual({
      scriptsUrl: 'image:///usr/libexec/s2i',
      destination: '/tmp',
      assembleUser: '1001',
      assembleInputFiles: '/opt/app.jar',
      warnings: [],
    });
    expect(readBuilderLabels({ Labels: { 'io.openshift.s2i.destination': '/opt/s2i/' } }).destination).toBe(
      '/opt/s2i',
    );
  });
  it('falls back to the deprecated io.s2i.* labels and STI_* variables, with a warning (as s2i)', () => {
    const fromOld = readBuilderLabels({ Labels: { 'io.s2i.scripts-url': 'image:///old' } }, 'old-image');
    expect(fromOld.scriptsUrl).toBe('image:///old');
    expect(fromOld.warnings).toEqual([
      'old-image uses the deprecated label io.s2i.scripts-url; use io.openshift.s2i.scripts-url',
    ]);
    const fromEnv = readBuilderLabels({
      Labels: null,
      Env: ['PATH=/bin', 'STI_SCRIPTS_URL=image:///env', 'STI_LOCATION=/var/s2i'],
    });
    expect(fromEnv.scriptsUrl).toBe('image:///env');
    expect(fromEnv.destination).toBe('/var/s2i');
    expect(fromEnv.warnings).toHaveLength(2);
  });
  it('the current label wins over deprecated ones', () => {
    const labels = readBuilderLabels({
      Labels: { 'io.openshift.s2i.scripts-url': 'image:///new', 'io.s2i.scripts-url': 'image:///old' },
      Env: ['STI_SCRIPTS_URL=image:///env'],
    });
    expect(labels.scriptsUrl).toBe('image:///new');
    expect(labels.warnings).toEqual([]);
  });
  it('rejects a destination with ..', () => {
    expect(() => normalizeDestination('/tmp/../etc')).toThrow('must not contain ".."');
    expect(normalizeDestination('tmp')).toBe('/tmp');
    expect(normalizeDestination('/')).toBe('/');
  });
});

describe('outputImageLabels', () => {
  const base = {
    builderImage: 'registry.local/openshift/nodejs@sha256:abc',
    tag: 'slipway-build/ns/web:latest',
    source: {
      uri: 'https://git.example.com/web.git',
      ref: 'refs/heads/main',
      commit: 'c0ffee',
      author: { name: 'Ada', email: 'ada@example.com' },
      message: 'Fix it',
      date: 'Fri Aug 21 13:44:47 2020 +0200',
    },
  };
  it("writes s2i's io.openshift.s2i.build.* and OpenShift's io.openshift.build.* labels", () => {
    const labels = outputImageLabels({
      ...base,
      contextDir: 'app/',
      buildName: 'web-3',
      buildNamespace: 'ns',
    });
    for (const ns of ['io.openshift.s2i.', 'io.openshift.']) {
      expect(labels).toMatchObject({
        [`${ns}build.image`]: 'registry.local/openshift/nodejs@sha256:abc',
        [`${ns}build.commit.author`]: 'Ada <ada@example.com>',
        [`${ns}build.commit.date`]: 'Fri Aug 21 13:44:47 2020 +0200',
        [`${ns}build.commit.id`]: 'c0ffee',
        [`${ns}build.commit.ref`]: 'refs/heads/main',
        [`${ns}build.commit.message`]: 'Fix it',
        [`${ns}build.source-location`]: 'https://git.example.com/web.git',
        [`${ns}build.source-context-dir`]: 'app',
      });
    }
    expect(labels['io.k8s.display-name']).toBe('slipway-build/ns/web:latest');
    expect(labels['io.openshift.build.name']).toBe('web-3');
  });
  it('OpenShift labels the ref it was asked to build; metadata and output.imageLabels override in that order', () => {
    const labels = outputImageLabels({
      ...base,
      requestedRef: 'main',
      metadataLabels: { 'io.k8s.display-name': 'from assemble', team: 'a' },
      imageLabels: [{ name: 'team', value: 'b' }, { name: 'empty' }],
    });
    expect(labels['io.openshift.build.commit.ref']).toBe('main');
    expect(labels['io.openshift.s2i.build.commit.ref']).toBe('refs/heads/main');
    expect(labels['io.k8s.display-name']).toBe('from assemble');
    expect(labels.team).toBe('b');
    expect(labels.empty).toBe('');
  });
  it('leaves out what the source does not know', () => {
    const labels = outputImageLabels({ builderImage: 'b', tag: 't', source: {} });
    expect(Object.keys(labels).sort()).toEqual([
      'io.k8s.display-name',
      'io.openshift.build.image',
      'io.openshift.s2i.build.image',
    ]);
  });
});

describe('parseImageMetadata (s2i docs/new_labels.md)', () => {
  it('reads {"labels": [{"k": "v"}, …]}', () => {
    expect(parseImageMetadata('{"labels": [{"a": "1"}, {"b": "2", "c": "3"}]}')).toEqual({
      a: '1',
      b: '2',
      c: '3',
    });
    expect(parseImageMetadata('{}')).toEqual({});
  });
  it('fails on any other shape, as s2i does', () => {
    expect(() => parseImageMetadata('not json')).toThrow('is not valid JSON');
    expect(() => parseImageMetadata('{"labels": {"a": "1"}}')).toThrow('"labels" must be a list');
    expect(() => parseImageMetadata('{"labels": [{"a": 1}]}')).toThrow('label "a" must have a string value');
  });
});

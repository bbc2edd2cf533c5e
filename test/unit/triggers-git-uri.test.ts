import { describe, expect, it } from '@jest/globals';
import { normalizeGitUri, repositoryCoordinates, sameRepository } from '../../src/triggers/git-uri.js';

describe('normalizeGitUri', () => {
  it('gives every form of one GitHub repository the same key', () => {
    const forms = [
      'https://github.com/Codertocat/Hello-World.git',
      'https://github.com/Codertocat/Hello-World',
      'https://github.com/codertocat/hello-world/',
      'https://GitHub.com:443/Codertocat/Hello-World.git/',
      'http://github.com:80/Codertocat/Hello-World',
      'git@github.com:Codertocat/Hello-World.git',
      'git@github.com:Codertocat/Hello-World',
      'ssh://git@github.com/Codertocat/Hello-World.git',
      'ssh://git@github.com:22/Codertocat/Hello-World.git',
      'git+ssh://git@github.com/Codertocat/Hello-World.git',
      'git://github.com/Codertocat/Hello-World.git',
      'git://github.com:9418/Codertocat/Hello-World.git',
      'https://user:token@github.com/Codertocat/Hello-World.git',
      'https://github.com/Codertocat/Hello-World.git?foo=bar#frag',
    ];
    const keys = new Set(forms.map(normalizeGitUri));
    expect([...keys]).toEqual(['github.com/codertocat/hello-world']);
  });

  it('keeps non-default ports and tells different hosts and repositories apart', () => {
    expect(normalizeGitUri('ssh://git@gitlab.example.com:2222/group/app.git')).toBe(
      'gitlab.example.com:2222/group/app',
    );
    expect(normalizeGitUri('http://127.0.0.1:8080/app.git')).toBe('127.0.0.1:8080/app');
    expect(sameRepository('https://github.com/a/b', 'https://github.com/a/c')).toBe(false);
    expect(sameRepository('https://github.com/a/b', 'https://gitlab.com/a/b')).toBe(false);
    expect(sameRepository('https://github.com/a/b', 'https://github.com/a/b/c')).toBe(false);
    // GitLab subgroups are part of the path.
    expect(normalizeGitUri('git@gitlab.com:group/sub/app.git')).toBe('gitlab.com/group/sub/app');
  });

  it('keeps local paths as file: keys with their case', () => {
    expect(normalizeGitUri('/srv/Git/App.git')).toBe('file:/srv/Git/App');
    expect(normalizeGitUri('file:///srv/Git/App.git/')).toBe('file:/srv/Git/App');
    expect(sameRepository('file:///srv/git/app', '/srv/git/app.git')).toBe(true);
  });

  it('refuses strings that are not git URLs', () => {
    for (const bad of [
      '',
      '   ',
      'not a url',
      'https://',
      'C:\\repo',
      'https://github.com/',
      'git@github.com:',
    ]) {
      expect(normalizeGitUri(bad)).toBeUndefined();
    }
    expect(sameRepository('', '')).toBe(false);
  });
});

describe('repositoryCoordinates', () => {
  it('reads owner and repo from any form', () => {
    expect(repositoryCoordinates('git@github.com:Codertocat/Hello-World.git')).toEqual({
      host: 'github.com',
      owner: 'codertocat',
      repo: 'hello-world',
    });
    expect(repositoryCoordinates('https://ghe.example.com/org/app')).toEqual({
      host: 'ghe.example.com',
      owner: 'org',
      repo: 'app',
    });
  });
  it('is undefined for paths that are not owner/repo', () => {
    expect(repositoryCoordinates('https://gitlab.com/group/sub/app')).toBeUndefined();
    expect(repositoryCoordinates('/srv/git/app')).toBeUndefined();
  });
});

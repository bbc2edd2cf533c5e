/**
 * Which Docker and S2I build errors are the build's own, and which may be the engine
 * going away (and get a few seconds to show it).
 */
import { dockerfileFault } from '../../src/builders/docker/index.js';
import { engineFault } from '../../src/builders/engine-watch.js';

test("the Dockerfile's own errors", () => {
  for (const detail of [
    "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
    'COPY failed: file not found in build context or excluded by .dockerignore: stat app.js: file does not exist',
    'dockerfile parse error line 2: unknown instruction: RUNN',
    'pull access denied for nothing/here, repository does not exist',
    'manifest for example/app:9 not found: manifest unknown',
  ])
    expect(dockerfileFault(detail)).toBe(true);
});

test('a killed step and the engine’s internal errors while it shuts down', () => {
  for (const detail of [
    "The command '/bin/sh -c sleep 30' returned a non-zero code: 137",
    "The command '/bin/sh -c sleep 30' returned a non-zero code: 143",
    'failed to update store for object type *libnetwork.endpoint: open : no such file or directory',
    'connection reset by peer',
  ])
    expect(dockerfileFault(detail)).toBe(false);
});

test('S2I: a killed script or a lost API connection may be the engine; a script that failed is not', () => {
  for (const message of [
    'assemble (/tmp/scripts/assemble) exited with code 137 (137: killed, often for lack of memory)',
    'assemble (/usr/libexec/s2i/assemble) exited with code 143',
    'S2I build failed: socket hang up',
    'S2I build failed: connect ECONNREFUSED /var/run/docker.sock',
    'S2I build failed: (HTTP code 500) server error - failed to update store for object type *libnetwork.endpoint',
  ])
    expect(engineFault(message)).toBe(true);
  for (const message of [
    'assemble (/tmp/scripts/assemble) exited with code 1',
    'assemble (/tmp/scripts/assemble) exited with code 1370',
    'no assemble script: .s2i/bin/assemble is missing and the builder image has no io.openshift.s2i.scripts-url',
    'S2I build failed: (HTTP code 404) no such image - builder:latest',
  ])
    expect(engineFault(message)).toBe(false);
});

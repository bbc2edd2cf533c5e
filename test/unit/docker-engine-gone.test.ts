/** Which Docker build errors are the Dockerfile's own, and which may be the engine going away. */
import { dockerfileFault } from '../../src/builders/docker/index.js';

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

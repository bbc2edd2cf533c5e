/**
 * The web UI: one page (no build step) that lists build configs and builds and streams
 * a build's log — the page a commit status links to. The page carries no data: it asks
 * for the API token and reads everything through the same authenticated API as the CLI.
 */
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import Handlebars from 'handlebars';

export function uiRouter(): Router {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const template = Handlebars.compile(readFileSync(new URL('./ui/page.hbs', import.meta.url), 'utf8'));
  const html = template({ version: pkg.version });
  const router = Router();
  router.get(['/ui', '/ui/', '/ui/namespaces/:ns/builds/:name/log'], (_req, res) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.type('html').send(html);
  });
  return router;
}

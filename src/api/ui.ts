/**
 * The web UI: a dashboard of the path from push to serving (docs/dashboard.md). The page
 * is static files with no build step (`src/api/ui/`, copied beside the compiled server):
 * an HTML shell, a stylesheet and ES modules. It carries no data: it asks for the API
 * token, keeps it in sessionStorage, and reads everything through the same authenticated
 * API as the CLI, live through the namespace's event stream (src/api/events.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Router, type Response } from 'express';
import Handlebars from 'handlebars';

/**
 * Nothing inline and nothing from elsewhere: even text that slipped into the DOM as
 * markup (a commit message with `<img onerror>`) could not run a script.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export function uiRouter(): Router {
  const dir = new URL('./ui/', import.meta.url);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const html = Handlebars.compile(readFileSync(new URL('page.hbs', dir), 'utf8'))({ version: pkg.version });
  // Every asset is read once, at start: the set served is exactly what was shipped.
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const file of readdirSync(dir)) {
    const type = TYPES[file.slice(file.lastIndexOf('.'))];
    if (type) assets.set(file, { type, body: readFileSync(new URL(file, dir)) });
  }

  const router = Router();
  const secure = (res: Response): void => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };
  router.get('/ui/assets/:file', (req, res, next) => {
    const asset = assets.get(req.params.file);
    if (!asset) return next();
    secure(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.type(asset.type).send(asset.body);
  });
  // Every page of the dashboard is the same shell; the script reads the path.
  router.get(['/ui', '/ui/', '/ui/namespaces/{*rest}'], (_req, res) => {
    secure(res);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  });
  return router;
}

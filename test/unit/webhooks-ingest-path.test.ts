/**
 * The pure parts of the webhook ingest path: which request targets the node:http handler
 * takes from express (matched as express' router would), the JSON depth scan that
 * jumps over strings, the __proto__ check it may skip, and the raw-bytes HMAC check
 * against @octokit/webhooks' own sign().
 */
import { describe, expect, it } from '@jest/globals';
import { Webhooks } from '@octokit/webhooks';
import { matchWebhookPath } from '../../src/api/webhook-routes.js';
import { jsonTextDepth, parseJsonText } from '../../src/core/untrusted-input.js';
import { sha256SignatureMatches } from '../../src/webhooks/signatures.js';

const BC = '/apis/build.openshift.io/v1/namespaces/team/buildconfigs/web/webhooks/s3cret/github';

describe('matchWebhookPath', () => {
  it('takes the three webhook endpoints, case-insensitively, with a trailing slash or a query', () => {
    expect(matchWebhookPath('/webhooks/github')).toEqual({ endpoint: 'github-org' });
    expect(matchWebhookPath('/WEBHOOKS/GitHub/?x=1')).toEqual({ endpoint: 'github-org' });
    expect(matchWebhookPath('/webhooks/registry')).toEqual({ endpoint: 'registry' });
    expect(matchWebhookPath(`${BC}?ref=main`)).toEqual({
      endpoint: 'buildconfig',
      namespace: 'team',
      name: 'web',
      secret: 's3cret',
      type: 'github',
    });
    expect(matchWebhookPath(`http://example.test:8080${BC}`)).toMatchObject({ endpoint: 'buildconfig' });
  });

  it('decodes percent-encoded parameters, and names (never quotes) one that does not decode', () => {
    expect(matchWebhookPath(BC.replace('s3cret', 'a%2Fb%20c').replace('/team/', '/te%61m/'))).toMatchObject({
      namespace: 'team',
      secret: 'a/b c',
    });
    const bad = matchWebhookPath(BC.replace('s3cret', 'sec%E0%A4%A'));
    expect(bad).toEqual({ endpoint: 'bad-path', message: expect.stringContaining('"secret"') });
    expect(JSON.stringify(bad)).not.toContain('sec%E0');
  });

  it('leaves every other path to express', () => {
    for (const target of [
      '/webhooks',
      '/webhooks/github/extra',
      '/webhooks/gitlab',
      '/healthz',
      '/apis/build.openshift.io/v1/namespaces/team/buildconfigs/web',
      '/apis/build.openshift.io/v1/namespaces/team/buildconfigs/web/webhooks/s3cret',
      `${BC}/more`,
      '*',
      '',
    ])
      expect(matchWebhookPath(target)).toBeUndefined();
  });
});

/** The character-by-character scan the jumping one replaced: the reference. */
function referenceDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

describe('jsonTextDepth', () => {
  it('agrees with a character-by-character scan on escapes, quotes and brackets inside strings', () => {
    const cases = [
      '{"a":[1,{"b":"]]]}}}"}]}',
      '{"a":"\\\\"}',
      '{"a":"\\\\\\"[[[["}',
      '["\\\\\\\\",[["x"]]]',
      '{"unterminated":"[[[',
      '[[[["\\"]]]]',
      '"\\',
      '\\"[[',
      '',
    ];
    // Random texts over the characters that matter.
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 2000; n++) {
      let s = '';
      for (let i = next() % 60; i > 0; i--) s += '[]{}"\\a'[next() % 7];
      cases.push(s);
    }
    for (const text of cases) expect([text, jsonTextDepth(text)]).toEqual([text, referenceDepth(text)]);
  });

  it('stops counting past the limit', () => {
    expect(jsonTextDepth('['.repeat(100_000), 100)).toBe(101);
  });
});

describe('parseJsonText', () => {
  it('refuses a __proto__ key however it is spelled, and depth past the limit', () => {
    for (const text of [
      '{"__proto__":{"x":1}}',
      '{"a":[{"\\u005f_proto__":1}]}',
      '{"\\u005F\\u005Fproto\\u005F\\u005F":1}',
    ])
      expect(() => parseJsonText(text, { what: 'the payload' })).toThrow(/"__proto__"/);
    expect(() => parseJsonText(`${'['.repeat(101)}${']'.repeat(101)}`)).toThrow(
      /deeper than the limit of 100/,
    );
    expect(parseJsonText('{"a":"\\u00e9","b":[1,2]}')).toEqual({ a: 'é', b: [1, 2] });
  });

  it('counts nesting, not openers: many brackets inside strings or side by side pass, depth 101 of mixed brackets does not', () => {
    const inStrings = JSON.stringify({
      text: '{['.repeat(500),
      list: Array.from({ length: 300 }, () => [{}]),
    });
    expect(parseJsonText(inStrings)).toEqual(JSON.parse(inStrings));
    const hundred = `${'{"a":['.repeat(50)}${']}'.repeat(50)}`;
    expect(() => parseJsonText(hundred)).not.toThrow();
    expect(() => parseJsonText(`[${hundred}]`)).toThrow(/deeper than the limit of 100/);
  });
});

describe('sha256SignatureMatches', () => {
  const secret = 'org-secret';
  const body = JSON.stringify({ ref: 'refs/heads/main', note: 'héllo ✓' });

  it("accepts @octokit/webhooks' signature of the bytes, upper-case hex too", async () => {
    const signature = await new Webhooks({ secret }).sign(body);
    expect(sha256SignatureMatches(secret, Buffer.from(body), signature)).toBe(true);
    expect(
      sha256SignatureMatches(
        secret,
        Buffer.from(body),
        ` ${signature.toUpperCase().replace('SHA256', 'sha256')} `,
      ),
    ).toBe(true);
  });

  it('refuses another secret, another body, a malformed header and an empty secret or body', async () => {
    const signature = await new Webhooks({ secret }).sign(body);
    expect(sha256SignatureMatches('other', Buffer.from(body), signature)).toBe(false);
    expect(sha256SignatureMatches(secret, Buffer.from(`${body} `), signature)).toBe(false);
    for (const header of [
      '',
      'sha256=',
      `sha1=${signature.slice(7)}`,
      `${signature}00`,
      signature.replace(/.$/, 'g'),
    ])
      expect(sha256SignatureMatches(secret, Buffer.from(body), header)).toBe(false);
    expect(sha256SignatureMatches('', Buffer.from(body), signature)).toBe(false);
    expect(sha256SignatureMatches(secret, Buffer.alloc(0), signature)).toBe(false);
  });
});

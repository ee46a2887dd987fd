// A small static server for the end-to-end tests: serves the demo site (www/) at /, the built
// widget (pkg/) at /leadscore/, the compiled models (pkg/models/, where the build puts them) at
// /models/ before www/models/, and test pages (tests/e2e/fixtures/) at /fixtures/; records every
// request and accepts tier results at POST /v1/tier as the collector does: JSON sent as
// application/json or as text/plain (the widget's CORS-simple post), from any origin. Its
// behaviour can be switched per test to simulate a broken deployment (missing wasm, wrong MIME
// type, strict CSP, a backend that is down or never answers).

import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mounts = [
  ['/leadscore/', path.join(root, 'pkg')],
  ['/fixtures/', path.join(root, 'tests', 'e2e', 'fixtures')],
  ['/models/', path.join(root, 'pkg', 'models')],
  ['/', path.join(root, 'www')],
];
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.svg': 'image/svg+xml',
};

/** Default behaviour; tests change `server.options` and call `server.reset()` between tests. */
const defaults = () => ({
  tierStatus: 200, // status answered to POST /v1/tier (503 = backend down; 'hang' = never answers)
  wasm: 'ok', // 'ok' | 'missing' | 'wrong-mime'
  csp: null, // Content-Security-Policy header for HTML pages
  pages: {}, // pathname -> HTML text served instead of the file (pages a test writes)
});

export async function startServer() {
  const server = {
    options: defaults(),
    requests: [], // every request: {method, path, search, headers, body}
    tierPosts: [], // bodies of POST /v1/tier, parsed, in arrival order (accepted or not)
    accepted: [], // tier results answered with 2xx
    held: [], // answers of tier posts held while tierStatus is 'hang'
    url: '',
    reset() {
      this.options = defaults();
      this.requests.length = 0;
      this.tierPosts.length = 0;
      this.accepted.length = 0;
      this.held.length = 0;
    },
    /** Answers the tier posts held so far with `status` (a hung post whose page gave up is lost). */
    release(status = 200) {
      for (const answer of this.held.splice(0)) {
        try { answer(status); } catch { /* the page closed the connection */ }
      }
    },
  };

  const httpServer = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://localhost');
    server.requests.push({ method: req.method, path: url.pathname, search: url.search, headers: req.headers, body });

    if (url.pathname === '/v1/tier') {
      // Any origin may post (the collector allows it too); a preflight is answered but recorded,
      // so that tests can check the widget never needs one.
      res.setHeader('access-control-allow-origin', '*');
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', 'POST');
        res.setHeader('access-control-allow-headers', 'content-type');
        return send(res, 204, 'text/plain', '');
      }
      if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST only');
      const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json' && type !== 'text/plain') return send(res, 415, 'text/plain', 'JSON only');
      let parsed = null;
      try { parsed = JSON.parse(body); } catch { /* recorded as null */ }
      server.tierPosts.push(parsed);
      const answer = (status) => {
        if (status >= 200 && status < 300) server.accepted.push(parsed);
        send(res, status, 'application/json', '{}');
      };
      // A backend that never answers: the request is held until `release` (or the server closes).
      if (server.options.tierStatus === 'hang') return server.held.push(answer);
      return answer(server.options.tierStatus);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only');
    if (url.pathname.endsWith('.wasm') && server.options.wasm === 'missing') {
      return send(res, 404, 'text/plain', 'not found');
    }

    const written = server.options.pages[url.pathname];
    if (written != null) {
      const headers = { 'content-type': types['.html'], 'cache-control': 'no-store' };
      if (server.options.csp) headers['content-security-policy'] = server.options.csp;
      res.writeHead(200, headers);
      return res.end(written);
    }
    const file = await resolve(url.pathname);
    if (!file) return send(res, 404, 'text/html', '<h1>Not found</h1>');
    const ext = path.extname(file);
    let type = types[ext] || 'application/octet-stream';
    if (ext === '.wasm' && server.options.wasm === 'wrong-mime') type = 'application/octet-stream';
    const headers = { 'content-type': type, 'cache-control': 'no-store' };
    if (ext === '.html' && server.options.csp) headers['content-security-policy'] = server.options.csp;
    res.writeHead(200, headers);
    res.end(await fs.readFile(file));
  });

  await new Promise((ok) => httpServer.listen(0, '127.0.0.1', ok));
  server.url = `http://127.0.0.1:${httpServer.address().port}`;
  server.close = () => new Promise((ok) => { httpServer.closeAllConnections(); httpServer.close(ok); });
  return server;
}

async function resolve(pathname) {
  let decoded;
  try { decoded = decodeURIComponent(pathname); } catch { return null; }
  for (const [prefix, dir] of mounts) {
    if (!decoded.startsWith(prefix)) continue;
    const full = path.join(dir, decoded.slice(prefix.length));
    if (!full.startsWith(dir)) return null;
    for (const candidate of [full, path.join(full, 'index.html')]) {
      try {
        if ((await fs.stat(candidate)).isFile()) return candidate;
      } catch { /* try the next */ }
    }
    // Not there: a later mount may have it (/models/ falls back to www/models/).
  }
  return null;
}

function send(res, status, type, text) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

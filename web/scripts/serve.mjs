// A tiny static file server for the tests, the benchmark and the demo:
// serves web/ (src, pkg, demo, test pages) on localhost, which browsers
// treat as a secure context (Web Locks, IndexedDB durability hints).
//
//   node scripts/serve.mjs [port]     serves web/ and prints the demo URL

import http from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export const WEB_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** The API suite shared with the Node package (../js/test/), served under /js-test/. */
const SHARED_TESTS = path.join(path.dirname(WEB_ROOT), 'js', 'test');

/**
 * Serves `root` on 127.0.0.1 (port 0: any free port).
 * @param {string} [root] @param {number} [port]
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startServer(root = WEB_ROOT, port = 0) {
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const shared = url.pathname.startsWith('/js-test/');
      const base = shared ? SHARED_TESTS : root;
      const rel = shared ? url.pathname.slice('/js-test'.length) : url.pathname;
      let file = path.normalize(path.join(base, decodeURIComponent(rel)));
      if (!file.startsWith(base)) {
        res.writeHead(403).end();
        return;
      }
      if ((await stat(file)).isDirectory()) file = path.join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[/** @type {keyof typeof TYPES} */ (path.extname(file))] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://localhost:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startServer(WEB_ROOT, Number(process.argv[2] ?? 8080));
  console.log(`logpond demo: ${url}/demo/`);
}

// The browser tests' HTTP server (node's http module, real HTTP on 127.0.0.1): `/` is the
// rendered output tree, as a static host would serve it (a directory's `index.html` for a path
// ending in `/`, 404 for a file that is not there, which is what a map gets for the empty
// tiles tilecast does not write), and `/_page/` is the
// map page with MapLibre GL JS and the PMTiles protocol from node_modules. No CDN and nothing
// else is reachable.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'node_modules', 'maplibre-gl', 'dist');
const PAGE = {
  'index.html': path.join(here, 'index.html'),
  'page.js': path.join(here, 'page.js'),
  'maplibre-gl.js': path.join(dist, 'maplibre-gl.js'),
  'maplibre-gl.css': path.join(dist, 'maplibre-gl.css'),
  'pmtiles.js': path.join(here, 'node_modules', 'pmtiles', 'dist', 'pmtiles.js'),
};
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.png': 'image/png' };

/** Serves `root` and the page on 127.0.0.1:`port`; resolves to the server once listening. */
export function serve(root, port) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let file;
    if (url.pathname.startsWith('/_page/')) {
      file = PAGE[url.pathname.slice('/_page/'.length)];
    } else {
      const rel = decodeURIComponent(url.pathname) + (url.pathname.endsWith('/') ? 'index.html' : '');
      const abs = path.resolve(root, '.' + rel);
      if (abs.startsWith(path.resolve(root) + path.sep)) file = abs;
    }
    try {
      if (!file) throw new Error('not served');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'access-control-allow-origin': '*',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// Builds the web UI into dist/: index.html (the chat, served at /), admin.html (served at /admin)
// and content-hashed assets under dist/assets/, each with a gzip copy the server can send as is.
// Usage: node build.mjs   (npm run build)
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const assets = join(dist, 'assets');

const pages = [
  { file: 'index.html', entry: 'chat', bodyClass: 'chat', description: 'Your brand coach' },
  { file: 'admin.html', entry: 'admin', bodyClass: 'admin-page', description: 'Administration' },
];

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    chat: 'src/chat.jsx',
    admin: 'src/admin.jsx',
    // One stylesheet for both pages, so the browser caches it once.
    styles: 'src/styles.css',
  },
  outdir: assets,
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  // Classic scripts (not modules): each page is one self-contained file, no code splitting.
  format: 'iife',
  splitting: false,
  target: 'es2020',
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  metafile: true,
  logLevel: 'silent',
});

if (result.warnings.length > 0) {
  for (const w of result.warnings) {
    const where = w.location ? `${w.location.file}:${w.location.line}: ` : '';
    console.error(`warning: ${where}${w.text}`);
  }
  console.error('The build has warnings; fix them.');
  process.exit(1);
}

// Which hashed file each entry point became.
const outputOf = {};
for (const [path, output] of Object.entries(result.metafile.outputs)) {
  if (!output.entryPoint) continue;
  const name = output.entryPoint.replace(/^src\//, '').replace(/\.(jsx|js|css)$/, '');
  outputOf[name] = `/${relative(dist, join(root, path)).split('\\').join('/')}`;
}
const css = outputOf.styles;
if (!css || !outputOf.chat || !outputOf.admin) throw new Error(`missing outputs: ${JSON.stringify(outputOf)}`);

const html = ({ entry, bodyClass, description }) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="${description}">
<meta name="color-scheme" content="light">
<title>brandcoach</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${css}">
<script defer src="${outputOf[entry]}"></script>
</head>
<body class="${bodyClass}">
<noscript><p>brandcoach needs JavaScript to run in this browser.</p></noscript>
<div id="app"></div>
</body>
</html>
`;

for (const page of pages) await writeFile(join(dist, page.file), html(page));

// A gzip copy of every file, at the highest level: built once, served many times.
async function filesUnder(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (!entry.name.endsWith('.gz')) out.push(path);
  }
  return out;
}

const sizes = {};
for (const file of await filesUnder(dist)) {
  const body = await readFile(file);
  const gz = gzipSync(body, { level: constants.Z_BEST_COMPRESSION });
  await writeFile(`${file}.gz`, gz);
  sizes[`/${relative(dist, file).split('\\').join('/')}`] = { raw: body.length, gzip: gz.length };
}

// What each page costs to load: its HTML, its script and the stylesheet.
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log('file'.padEnd(40), 'raw'.padStart(11), 'gzip'.padStart(11));
for (const [file, s] of Object.entries(sizes).sort()) {
  console.log(file.padEnd(40), kb(s.raw).padStart(11), kb(s.gzip).padStart(11));
}
for (const page of pages) {
  const parts = [`/${page.file}`, outputOf[page.entry], css].map((f) => sizes[f]);
  const raw = parts.reduce((a, s) => a + s.raw, 0);
  const gzip = parts.reduce((a, s) => a + s.gzip, 0);
  const route = page.file === 'index.html' ? '/' : '/admin';
  console.log(`page ${route.padEnd(35)} ${kb(raw).padStart(11)} ${kb(gzip).padStart(11)}  (html + js + css)`);
}

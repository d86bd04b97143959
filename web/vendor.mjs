// What the page loads from npm packages at run time, into gateway/static/app/ (the gateway serves it
// itself: no CDN; the page's CSP allows only its own origin). The versions are pinned by the lock.
// - uPlot: copied as it ships (an ES module) into vendor/.
// - avatar3d.js: the 3D avatar with three.js and @pixiv/three-vrm bundled in (their modules import each
//   other by bare package names, which a browser cannot resolve without an import map, and the CSP forbids
//   inline ones). tsc has already type-checked src/avatar3d.ts; its unbundled output is replaced here. The
//   page imports it only when a person chooses their own avatar.
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const app = new URL("../gateway/static/app/", import.meta.url);
const out = new URL("vendor/", app);
mkdirSync(out, { recursive: true });
const copies = {
  "uplot/dist/uPlot.esm.js": "uPlot.esm.js",
  "uplot/dist/uPlot.min.css": "uPlot.min.css",
  "uplot/LICENSE": "uPlot.LICENSE.txt",
  "three/LICENSE": "three.LICENSE.txt",
  "@pixiv/three-vrm/LICENSE": "three-vrm.LICENSE.txt",
};
for (const [file, name] of Object.entries(copies)) {
  copyFileSync(new URL(`node_modules/${file}`, import.meta.url), new URL(name, out));
}

await build({
  entryPoints: [fileURLToPath(new URL("src/avatar3d.ts", import.meta.url))],
  outfile: fileURLToPath(new URL("avatar3d.js", app)),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  logLevel: "warning",
});

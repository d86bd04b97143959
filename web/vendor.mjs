// Copies the npm packages the page loads at run time into gateway/static/app/vendor/: the gateway serves
// them itself (no CDN; the page's CSP allows only its own origin). The versions are pinned by the lock.
import { copyFileSync, mkdirSync } from "node:fs";

const out = new URL("../gateway/static/app/vendor/", import.meta.url);
mkdirSync(out, { recursive: true });
for (const file of ["uplot/dist/uPlot.esm.js", "uplot/dist/uPlot.min.css", "uplot/LICENSE"]) {
  const name = file.split("/").pop() === "LICENSE" ? "uPlot.LICENSE.txt" : file.split("/").pop();
  copyFileSync(new URL(`node_modules/${file}`, import.meta.url), new URL(name, out));
}

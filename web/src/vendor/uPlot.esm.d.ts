// Types for the vendored uPlot module (copied by vendor.mjs next to the compiled code): the browser
// imports "./vendor/uPlot.esm.js"; its types are the package's own.
import uPlot from "uplot";
export default uPlot;

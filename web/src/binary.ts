// Binary media frames (docs/protocol.md): the efficient form of video frames and audio chunks.

import { BINARY_HEADER_BYTES, BINARY_MAGIC, BINARY_VERSION } from "./protocol.js";

/** A binary media frame: "MR", version 1, kind, sequence (u32 LE), client time in ms (u64 LE). */
export function packBinary(kind: number, seq: number, payload: ArrayBuffer): ArrayBuffer {
  const out = new Uint8Array(BINARY_HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  out[0] = BINARY_MAGIC.charCodeAt(0);
  out[1] = BINARY_MAGIC.charCodeAt(1);
  out[2] = BINARY_VERSION;
  out[3] = kind;
  view.setUint32(4, seq >>> 0, true);
  view.setBigUint64(8, BigInt(Date.now()), true); // client time in ms
  out.set(new Uint8Array(payload), BINARY_HEADER_BYTES);
  return out.buffer;
}

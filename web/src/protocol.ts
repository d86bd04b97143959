// The gateway's WebSocket protocol (docs/protocol.md): binary media frames and the server's events.

export const KIND_VIDEO = 1;
export const KIND_AUDIO = 2;
const HEADER_BYTES = 16;

/** A binary media frame: "MR", version 1, kind, sequence (u32 LE), client time in ms (u64 LE). */
export function packBinary(kind: number, seq: number, payload: ArrayBuffer): ArrayBuffer {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  out[0] = 0x4d; // M
  out[1] = 0x52; // R
  out[2] = 1;
  out[3] = kind;
  view.setUint32(4, seq >>> 0, true);
  view.setBigUint64(8, BigInt(Date.now()), true); // client time in ms
  out.set(new Uint8Array(payload), HEADER_BYTES);
  return out.buffer;
}

export type Emotion = "Neutral" | "Happy" | "Sad" | "Angry";
export const EMOTIONS: Emotion[] = ["Neutral", "Happy", "Sad", "Angry"];

export interface Reading {
  emotion: Emotion | null;
  confidence: number;
  probabilities: number[];
  quality?: number;
}

export interface ModalityShare {
  emotion: Emotion | null;
  confidence: number;
  weight: number;
  quality: number | null;
}

export interface FusedEvent {
  type: "fused_emotion";
  emotion: Emotion;
  intensity: number;
  /** Neutral, Happy, Sad, Angry: the probability of `emotion` is how confident the fusion is. */
  probabilities: number[];
  live: boolean;
  utterance_id: string | null;
  modalities: Partial<Record<"face" | "voice" | "text", ModalityShare | null>>;
  conflict: boolean;
  masking: boolean;
  evidence: string[];
  ts: number;
}

export interface Viseme {
  t: number;
  viseme: string;
  weight: number;
}

export interface ReplyEvent {
  type: "llm_response";
  text: string;
  emotion: Emotion;
  intensity: number;
  audio: string;
  duration: number;
  visemes: Viseme[];
  turn_id: string;
  index: number;
  final: boolean;
  synthetic: boolean;
}

export interface ServerEvent {
  type: string;
  [field: string]: unknown;
}

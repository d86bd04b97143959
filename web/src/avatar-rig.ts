// How the built-in avatar's state drives a 3D avatar's shapes, without three.js (so it is plain data and
// arithmetic, bundled into avatar3d.js). Three kinds of face rig are understood:
// - "oculus": the 15 Oculus viseme morph targets (viseme_aa, viseme_PP, ...: Ready Player Me, Avaturn),
//   driven one to one by the viseme weights; ARKit shapes on the same model then carry only emotion,
//   blinks and gaze (driving both for speech would deform the mouth twice);
// - "arkit": the 52 ARKit blendshapes (jawOpen, mouthFunnel, mouthPucker, mouthSmileLeft, ...), each
//   viseme a recipe of them;
// - "vrm": VRM expression presets (aa, ih, ou, ee, oh, blink, happy, sad, angry, relaxed, neutral), which
//   three-vrm binds to the model's own morph targets.

import type { Emotion } from "./protocol.js";

export type RigKind = "vrm" | "oculus" | "arkit";

/** What the built-in avatar computes each frame (avatar.ts's `Avatar` has these): the 3D avatar's input. */
export interface Performer {
  readonly visemes: Readonly<Record<string, number>>;
  readonly face: Readonly<{
    browInner: number;
    browOuter: number;
    smile: number;
    cheek: number;
    lidTop: number;
    lidBottom: number;
    gazeX: number;
    gazeY: number;
    listen: number;
  }>;
  readonly head: Readonly<{ tilt: number; nod: number }>;
  readonly blinking: boolean;
  readonly speaking: boolean;
  readonly mood: { emotion: Emotion; intensity: number };
}

export const OCULUS_VISEMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"];

type Recipe = Record<string, number>;

/** Each viseme as ARKit blendshape weights (lips pressed for PP, lower lip under the teeth for FF, ...). */
export const ARKIT_VISEMES: Record<string, Recipe> = {
  sil: {},
  PP: { mouthClose: 0.15, mouthPressLeft: 0.6, mouthPressRight: 0.6, mouthRollLower: 0.3, mouthRollUpper: 0.2 },
  FF: { jawOpen: 0.1, mouthRollLower: 0.6, mouthUpperUpLeft: 0.25, mouthUpperUpRight: 0.25 },
  TH: { jawOpen: 0.2, tongueOut: 0.5, mouthUpperUpLeft: 0.1, mouthUpperUpRight: 0.1 },
  DD: { jawOpen: 0.25, mouthStretchLeft: 0.15, mouthStretchRight: 0.15 },
  kk: { jawOpen: 0.35, mouthStretchLeft: 0.15, mouthStretchRight: 0.15 },
  CH: { jawOpen: 0.2, mouthFunnel: 0.55, mouthPucker: 0.25, mouthShrugUpper: 0.2 },
  SS: { jawOpen: 0.08, mouthStretchLeft: 0.4, mouthStretchRight: 0.4, mouthSmileLeft: 0.15, mouthSmileRight: 0.15 },
  nn: { jawOpen: 0.18, mouthStretchLeft: 0.1, mouthStretchRight: 0.1 },
  RR: { jawOpen: 0.22, mouthFunnel: 0.35, mouthPucker: 0.25 },
  aa: { jawOpen: 0.75, mouthLowerDownLeft: 0.3, mouthLowerDownRight: 0.3 },
  E: { jawOpen: 0.45, mouthStretchLeft: 0.35, mouthStretchRight: 0.35, mouthLowerDownLeft: 0.2, mouthLowerDownRight: 0.2 },
  I: { jawOpen: 0.3, mouthSmileLeft: 0.4, mouthSmileRight: 0.4, mouthStretchLeft: 0.3, mouthStretchRight: 0.3 },
  O: { jawOpen: 0.55, mouthFunnel: 0.7, mouthPucker: 0.2 },
  U: { jawOpen: 0.3, mouthPucker: 0.85, mouthFunnel: 0.35 },
};

/** Each viseme as VRM's five vowel presets (consonants are a little of the nearest vowel, PP none). */
export const VRM_VISEMES: Record<string, Recipe> = {
  sil: {},
  PP: {},
  FF: { ih: 0.2 },
  TH: { aa: 0.2, ih: 0.1 },
  DD: { aa: 0.25, ih: 0.1 },
  kk: { aa: 0.35 },
  CH: { ou: 0.4, ih: 0.2 },
  SS: { ih: 0.4 },
  nn: { aa: 0.15, ih: 0.1 },
  RR: { ou: 0.35, oh: 0.1 },
  aa: { aa: 1 },
  E: { ee: 0.8, aa: 0.15 },
  I: { ih: 0.8 },
  O: { oh: 1 },
  U: { ou: 1 },
};

/** Morph target names are compared without case, a "blendShape1." style prefix or separators. */
export function canonical(name: string): string {
  return name.slice(name.lastIndexOf(".") + 1).toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** The rig a glTF's morph target names make (Oculus visemes win over ARKit for speech), or null. */
export function rigKind(names: Iterable<string>): "oculus" | "arkit" | null {
  const found = new Set([...names].map(canonical));
  if (OCULUS_VISEMES.filter((v) => v !== "sil").some((v) => found.has(canonical(`viseme_${v}`)))) return "oculus";
  if (["jawopen", "mouthfunnel", "mouthpucker"].some((name) => found.has(name))) return "arkit";
  return null;
}

function add(out: Recipe, recipe: Recipe, amount: number): void {
  if (amount <= 1e-4) return;
  for (const [name, weight] of Object.entries(recipe)) out[name] = (out[name] ?? 0) + weight * amount;
}

const clamp = (value: number) => Math.max(0, Math.min(1, value));

/** The morph target weights (ARKit and Oculus names) for a glTF avatar this frame. `blink` is 0-1. */
export function morphWeights(kind: "oculus" | "arkit", performer: Performer, blink: number): Recipe {
  const out: Recipe = {};
  const { visemes, face } = performer;
  for (const viseme of OCULUS_VISEMES) {
    const weight = visemes[viseme] ?? 0;
    if (kind === "oculus") out[`viseme_${viseme}`] = weight;
    else add(out, ARKIT_VISEMES[viseme], weight);
  }
  // Emotion, from the same eased numbers the drawn face uses (brows in its px at full intensity: 8 inner).
  const smile = face.smile;
  for (const side of ["Left", "Right"]) {
    add(out, { [`mouthSmile${side}`]: 1, [`cheekSquint${side}`]: 0.3 }, smile);
    add(out, { [`mouthFrown${side}`]: 1 }, -smile);
    add(out, { [`cheekSquint${side}`]: 0.6 }, face.cheek);
    add(out, { [`browDown${side}`]: 1, [`noseSneer${side}`]: 0.3 }, -face.browInner / 8);
    add(out, { [`browOuterUp${side}`]: 1 }, face.browOuter / 4 + face.listen * 0.4);
    add(out, { [`eyeBlink${side}`]: 1 }, Math.max(blink, face.lidTop * 0.55));
    add(out, { [`eyeSquint${side}`]: 1 }, face.lidBottom);
  }
  add(out, { browInnerUp: 1 }, face.browInner / 8 + face.listen * 0.35);
  // Gaze (the drawn irises move up to 4.5 px sideways, 2 px up or down): + x is toward the viewer's right,
  // the avatar's left.
  const x = face.gazeX / 4.5;
  const y = face.gazeY / 2;
  add(out, { eyeLookOutLeft: 0.6, eyeLookInRight: 0.6 }, x);
  add(out, { eyeLookInLeft: 0.6, eyeLookOutRight: 0.6 }, -x);
  add(out, { eyeLookDownLeft: 0.5, eyeLookDownRight: 0.5 }, y);
  add(out, { eyeLookUpLeft: 0.5, eyeLookUpRight: 0.5 }, -y);
  for (const name of Object.keys(out)) out[name] = clamp(out[name]);
  return out;
}

/** The VRM expression weights this frame; `feelings` is each emotion's eased weight (0-1). */
export function vrmWeights(performer: Performer, feelings: Readonly<Record<Emotion, number>>, blink: number): Recipe {
  const out: Recipe = { aa: 0, ih: 0, ou: 0, ee: 0, oh: 0 };
  for (const viseme of OCULUS_VISEMES) add(out, VRM_VISEMES[viseme], performer.visemes[viseme] ?? 0);
  out.happy = feelings.Happy;
  out.sad = feelings.Sad;
  out.angry = feelings.Angry;
  out.neutral = feelings.Neutral;
  out.relaxed = performer.face.listen * 0.4; // attentive and at ease while the person talks
  out.blink = Math.max(blink, performer.face.lidTop * 0.5);
  for (const name of Object.keys(out)) out[name] = clamp(out[name]);
  return out;
}

// The built-in avatar: a drawn SVG face. The mouth takes a distinct shape for each of the 15 Oculus
// visemes and moves between them with coarticulation (it starts toward the next shape before the current
// one ends, then eases, never snaps); the eyes blink and glance; brows, lids, cheeks and mouth corners
// carry Happy, Sad, Angry or Neutral at the reply's intensity; the head moves a little while speaking and
// while listening; while the person talks it listens (brows up, head tilted, eyes on them).
// Audio plays in sync with the viseme track; `interrupt` stops it and closes the mouth at once.
// A 3D avatar (avatar3d.ts) is drawn from the same state: the eased weight of each viseme, the face, the
// head motion and the blinks computed here, so both avatars move alike.

import type { Emotion, LlmResponseEvent, Viseme } from "./protocol.js";

/** One mouth pose: opening, width, rounding (pucker), upper teeth shown, tongue shown; all 0-1. */
interface Pose {
  open: number;
  width: number;
  round: number;
  teeth: number;
  tongue: number;
}

/** The 15 Oculus visemes, each its own pose (no two alike). */
export const VISEMES: Record<string, Pose> = {
  sil: { open: 0.0, width: 0.5, round: 0.0, teeth: 0.0, tongue: 0.0 },
  PP: { open: 0.0, width: 0.42, round: 0.15, teeth: 0.0, tongue: 0.0 }, // lips pressed
  FF: { open: 0.12, width: 0.55, round: 0.0, teeth: 1.0, tongue: 0.0 }, // upper teeth on the lower lip
  TH: { open: 0.22, width: 0.55, round: 0.0, teeth: 0.8, tongue: 1.0 }, // tongue between the teeth
  DD: { open: 0.3, width: 0.56, round: 0.0, teeth: 0.6, tongue: 0.5 },
  kk: { open: 0.4, width: 0.54, round: 0.0, teeth: 0.45, tongue: 0.0 },
  CH: { open: 0.3, width: 0.4, round: 0.5, teeth: 0.85, tongue: 0.0 },
  SS: { open: 0.14, width: 0.7, round: 0.0, teeth: 1.0, tongue: 0.0 },
  nn: { open: 0.22, width: 0.55, round: 0.0, teeth: 0.5, tongue: 0.65 },
  RR: { open: 0.28, width: 0.38, round: 0.45, teeth: 0.35, tongue: 0.0 },
  aa: { open: 0.92, width: 0.62, round: 0.0, teeth: 0.3, tongue: 0.2 },
  E: { open: 0.55, width: 0.74, round: 0.0, teeth: 0.6, tongue: 0.0 },
  I: { open: 0.36, width: 0.82, round: 0.0, teeth: 0.7, tongue: 0.0 },
  O: { open: 0.72, width: 0.3, round: 0.8, teeth: 0.0, tongue: 0.0 },
  U: { open: 0.38, width: 0.2, round: 1.0, teeth: 0.0, tongue: 0.0 },
};

/** What an emotion does to the face at full intensity. Brows: + raises (inner end, outer end). */
interface Expression {
  browInner: number;
  browOuter: number;
  smile: number; // mouth corners: + up, - down
  cheek: number; // raised, flushed cheeks
  lidTop: number; // upper lids lowered (0 open, 1 shut)
  lidBottom: number; // lower lids raised (a smile's squint)
}

const EXPRESSIONS: Record<Emotion, Expression> = {
  Neutral: { browInner: 0, browOuter: 0, smile: 0.08, cheek: 0, lidTop: 0.05, lidBottom: 0 },
  Happy: { browInner: 2.5, browOuter: 3, smile: 1, cheek: 1, lidTop: 0, lidBottom: 0.38 },
  Sad: { browInner: 8, browOuter: -4, smile: -0.85, cheek: 0, lidTop: 0.32, lidBottom: 0 },
  Angry: { browInner: -8, browOuter: 3, smile: -0.45, cheek: 0.15, lidTop: 0.3, lidBottom: 0.15 },
};

const SVG_NS = "http://www.w3.org/2000/svg";
/** Coarticulation: how long before the next viseme the mouth starts toward it (s). */
const LEAD_S = 0.09;
/** Easing time constants (s): the mouth is quick, the face slower. */
const MOUTH_TAU = 0.035;
const FACE_TAU = 0.18;
let instances = 0;

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
const ease = (dt: number, tau: number) => 1 - Math.exp(-dt / tau);

function mix(a: Pose, b: Pose, t: number): Pose {
  return {
    open: lerp(a.open, b.open, t),
    width: lerp(a.width, b.width, t),
    round: lerp(a.round, b.round, t),
    teeth: lerp(a.teeth, b.teeth, t),
    tongue: lerp(a.tongue, b.tongue, t),
  };
}

export class Avatar {
  readonly element: SVGSVGElement;
  private readonly parts: Record<string, SVGElement> = {};
  private context: AudioContext | null = null;
  private queue: Promise<void> = Promise.resolve();
  private playing: AudioBufferSourceNode | null = null;
  private track: Viseme[] = [];
  private startedAt = 0;
  private emotion: Emotion = "Neutral";
  private intensity = 0.3;
  private generation = 0;
  private lastFrame = performance.now();
  private blinkUntil = 0;
  private nextBlink = performance.now() + 2000;
  private nextGlance = performance.now() + 1500;
  private gazeTarget = { x: 0, y: 0 };
  private listeningUntil = 0;
  /** The mouth and face as drawn now (tests sample them during playback). */
  readonly mouth: Pose = { ...VISEMES.sil };
  readonly face: Expression & { gazeX: number; gazeY: number; listen: number } = {
    ...EXPRESSIONS.Neutral,
    gazeX: 0,
    gazeY: 0,
    listen: 0,
  };
  /** The weight of each viseme in the mouth now, eased like the pose (the pose is their weighted sum):
   * what a 3D avatar's viseme morph targets follow. */
  readonly visemes: Record<string, number> = Object.fromEntries(Object.keys(VISEMES).map((name) => [name, 0]));
  /** The head's sway as drawn now: tilt in degrees (+ toward the avatar's left), nod in px (+ down). */
  readonly head = { tilt: 0, nod: 0 };
  /** The viseme the mouth is on now (the dominant one while blending). */
  viseme = "sil";
  speaking = false;
  blinking = false;

  constructor(container: HTMLElement, private readonly onSpeaking: (speaking: boolean) => void) {
    const id = `avatar-${++instances}`;
    this.element = document.createElementNS(SVG_NS, "svg");
    this.element.setAttribute("viewBox", "0 0 200 230");
    this.element.setAttribute("role", "img");
    this.element.setAttribute("aria-label", "The assistant's avatar");
    const eye = (side: string, cx: number) => `
      <clipPath id="${id}-eye-${side}"><ellipse cx="${cx}" cy="104" rx="13" ry="8.5"/></clipPath>
      <g class="eye-${side}" clip-path="url(#${id}-eye-${side})">
        <ellipse cx="${cx}" cy="104" rx="13" ry="8.5" class="sclera"/>
        <g data-part="iris-${side}"><circle cx="${cx}" cy="104" r="6.2" class="iris"/><circle cx="${cx}" cy="104" r="3" class="pupil"/>
        <circle cx="${cx + 2}" cy="102" r="1.3" class="glint"/></g>
        <rect data-part="lid-top-${side}" x="${cx - 16}" y="84" width="32" height="12" class="lid"/>
        <rect data-part="lid-bottom-${side}" x="${cx - 16}" y="112" width="32" height="12" class="lid"/>
      </g>
      <ellipse cx="${cx}" cy="104" rx="13" ry="8.5" class="eye-line"/>`;
    this.element.innerHTML = `
      <defs><clipPath id="${id}-mouth"><path data-part="mouth-clip"/></clipPath></defs>
      <g data-part="head">
        <path class="hair" d="M28 112 Q22 38 100 26 Q178 38 172 112 L166 150 Q160 90 100 84 Q40 90 34 150 Z"/>
        <ellipse cx="29" cy="118" rx="9" ry="15" class="skin"/>
        <ellipse cx="171" cy="118" rx="9" ry="15" class="skin"/>
        <path class="neck skin" d="M78 190 L78 230 L122 230 L122 190 Z"/>
        <path class="skin face" d="M100 30 C150 30 170 70 170 112 C170 160 140 200 100 200 C60 200 30 160 30 112 C30 70 50 30 100 30 Z"/>
        <path class="hair" d="M30 106 Q26 28 100 22 Q174 28 170 106 Q162 70 132 60 Q106 74 70 64 Q42 72 30 106 Z"/>
        <ellipse data-part="cheek-left" cx="62" cy="140" rx="14" ry="8" class="cheek"/>
        <ellipse data-part="cheek-right" cx="138" cy="140" rx="14" ry="8" class="cheek"/>
        ${eye("left", 72)}${eye("right", 128)}
        <path data-part="brow-left" class="brow"/>
        <path data-part="brow-right" class="brow"/>
        <path class="nose" d="M99 114 Q95 128 96 133 Q100 136 105 133"/>
        <g data-part="mouth-group">
          <path data-part="mouth" class="mouth"/>
          <g clip-path="url(#${id}-mouth)">
            <rect data-part="teeth" x="70" y="0" width="60" height="8" class="teeth"/>
            <ellipse data-part="tongue" cx="100" cy="0" rx="12" ry="6" class="tongue"/>
          </g>
          <path data-part="lips" class="lips"/>
        </g>
      </g>`;
    container.append(this.element);
    for (const part of this.element.querySelectorAll<SVGElement>("[data-part]")) this.parts[part.dataset.part!] = part;
    this.express("Neutral", 0.3);
    this.draw();
    requestAnimationFrame(() => this.animate());
  }

  /** Queue one reply sentence: its audio plays after the previous one, the mouth follows its visemes. */
  say(reply: LlmResponseEvent): void {
    const generation = this.generation;
    this.queue = this.queue.then(() => (generation === this.generation ? this.play(reply) : undefined));
  }

  private async play(reply: LlmResponseEvent): Promise<void> {
    const generation = this.generation;
    this.context ??= new AudioContext();
    if (this.context.state === "suspended") await this.context.resume();
    const bytes = Uint8Array.from(atob(reply.audio), (c) => c.charCodeAt(0));
    const buffer = await this.context.decodeAudioData(bytes.buffer);
    // An interrupt while the audio was decoding: this sentence must not start after it.
    if (generation !== this.generation) return;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    this.express(reply.emotion, reply.intensity);
    this.track = reply.visemes;
    this.playing = source;
    this.listeningUntil = 0; // it is its turn to speak now
    this.setSpeaking(true);
    const ended = new Promise<void>((resolve) => (source.onended = () => resolve()));
    this.startedAt = this.context.currentTime;
    source.start();
    await ended;
    if (this.playing === source) {
      this.playing = null;
      this.track = [];
      if (reply.final) this.setSpeaking(false);
    }
  }

  /** Barge-in: stop now, drop what is queued. */
  stop(): void {
    this.generation += 1;
    this.queue = Promise.resolve();
    const source = this.playing;
    this.playing = null;
    this.track = [];
    try {
      source?.stop();
    } catch {
      // already stopped
    }
    this.setSpeaking(false);
  }

  /** The person is talking (voice heard or typing): listen for a while after the last sign of it. */
  listen(forMs = 900): void {
    this.listeningUntil = Math.max(this.listeningUntil, performance.now() + forMs);
  }

  get listening(): boolean {
    return performance.now() < this.listeningUntil;
  }

  private setSpeaking(value: boolean): void {
    if (this.speaking !== value) {
      this.speaking = value;
      this.onSpeaking(value);
    }
  }

  /** The face the next frames ease toward: an emotion at an intensity (0-1). */
  express(emotion: Emotion, intensity: number): void {
    this.emotion = emotion;
    this.intensity = Math.max(0, Math.min(1, intensity));
    this.element.dataset.emotion = emotion;
  }

  /** The emotion the face is easing toward, at its intensity (0-1). */
  get mood(): { emotion: Emotion; intensity: number } {
    return { emotion: this.emotion, intensity: this.intensity };
  }

  /** The mouth pose wanted at `t` s into the sentence: the current viseme, already moving toward the next.
   * `weights` gets each viseme's share of that pose. */
  private target(t: number, weights: Record<string, number>): Pose {
    if (!this.playing || this.track.length === 0) return VISEMES.sil;
    let index = -1;
    while (index + 1 < this.track.length && this.track[index + 1].t <= t) index += 1;
    const current = this.track[index] ?? { t: 0, viseme: "sil", weight: 1 };
    const next = this.track[index + 1];
    const strength = (v: Viseme) => Math.max(0.3, Math.min(1, v.weight ?? 1));
    const pose = (v: Viseme) => mix(VISEMES.sil, VISEMES[v.viseme] ?? VISEMES.sil, strength(v));
    const share = (v: Viseme, amount: number) => {
      const name = v.viseme in VISEMES ? v.viseme : "sil";
      weights[name] = (weights[name] ?? 0) + amount;
    };
    let wanted = pose(current);
    let dominant = current.viseme;
    let blend = 0;
    if (next && next.t - t < LEAD_S) {
      const toward = 1 - (next.t - t) / LEAD_S;
      blend = toward * 0.7;
      wanted = mix(wanted, pose(next), blend);
      if (toward > 0.75) dominant = next.viseme;
    }
    share(current, strength(current) * (1 - blend));
    if (next && blend > 0) share(next, strength(next) * blend);
    this.setViseme(dominant);
    return wanted;
  }

  private setViseme(name: string): void {
    if (name !== this.viseme) {
      this.viseme = name;
      this.element.dataset.viseme = name;
    }
  }

  private animate(): void {
    const now = performance.now();
    const dt = Math.min(0.1, (now - this.lastFrame) / 1000);
    this.lastFrame = now;
    const t = this.playing && this.context ? this.context.currentTime - this.startedAt : 0;
    const weights: Record<string, number> = {};
    const wanted = this.target(t, weights);
    if (!this.playing) this.setViseme("sil");
    const m = ease(dt, MOUTH_TAU);
    for (const key of Object.keys(wanted) as (keyof Pose)[]) this.mouth[key] = lerp(this.mouth[key], wanted[key], m);
    for (const name of Object.keys(this.visemes)) this.visemes[name] = lerp(this.visemes[name], weights[name] ?? 0, m);

    const listening = this.listening && !this.speaking;
    this.element.dataset.listening = String(listening);
    const k = Math.max(0.25, this.intensity);
    const goal = EXPRESSIONS[this.emotion];
    const f = ease(dt, FACE_TAU);
    const listen = listening ? 1 : 0;
    this.face.listen = lerp(this.face.listen, listen, f);
    for (const key of ["browInner", "browOuter", "smile", "cheek", "lidTop", "lidBottom"] as const) {
      this.face[key] = lerp(this.face[key], goal[key] * k, f);
    }
    // Blinks every 2-6 s (140 ms), glances every 1.5-4 s; while listening the eyes stay on the person.
    if (now > this.nextBlink) {
      this.blinkUntil = now + 140;
      this.nextBlink = now + 2000 + Math.random() * 4000;
    }
    if (now > this.nextGlance) {
      const away = !listening && Math.random() < 0.45;
      this.gazeTarget = away ? { x: (Math.random() * 2 - 1) * 4.5, y: (Math.random() * 2 - 1) * 2 } : { x: 0, y: 0 };
      this.nextGlance = now + 1500 + Math.random() * 2500;
    }
    const g = ease(dt, 0.06);
    this.face.gazeX = lerp(this.face.gazeX, this.gazeTarget.x, g);
    this.face.gazeY = lerp(this.face.gazeY, this.gazeTarget.y, g);
    this.blinking = now < this.blinkUntil;
    this.draw(this.blinking);
    requestAnimationFrame(() => this.animate());
  }

  private set(part: string, name: string, value: string | number): void {
    this.parts[part]?.setAttribute(name, typeof value === "number" ? value.toFixed(2) : value);
  }

  private draw(blinking = false): void {
    const { open, width, round, teeth, tongue } = this.mouth;
    const face = this.face;
    const seconds = performance.now() / 1000;

    // Head: a slow sway always, a livelier one while speaking, a tilt and small nods while listening.
    const amp = this.speaking ? 1 + open * 1.5 : 0.5;
    const rotate = Math.sin(seconds * 1.1) * amp + face.listen * (5 + Math.sin(seconds * 2.4) * 1.2);
    const nod = Math.sin(seconds * (this.speaking ? 3.1 : 1.7)) * (this.speaking ? 1.4 : 0.6) + face.listen * 1.5;
    this.set("head", "transform", `translate(0 ${nod.toFixed(2)}) rotate(${rotate.toFixed(2)} 100 190)`);
    this.head.tilt = rotate;
    this.head.nod = nod;

    // Brows: inner and outer ends move separately (sad: inner up; angry: inner down and in).
    const up = face.listen * 3;
    const inner = face.browInner + up;
    const outer = face.browOuter + up;
    const squeeze = Math.max(0, -face.browInner) * 0.6;
    this.set("brow-left", "d", `M${56} ${84 - outer} Q${70} ${78 - (inner + outer) / 2 - 3} ${85 + squeeze} ${84 - inner}`);
    this.set("brow-right", "d", `M${115 - squeeze} ${84 - inner} Q${130} ${78 - (inner + outer) / 2 - 3} ${144} ${84 - outer}`);

    // Eyes: lids (blink, sadness, anger, a smile's squint), irises follow the gaze.
    const top = blinking ? 1 : Math.min(1, face.lidTop);
    const bottom = blinking ? 0 : Math.min(0.6, face.lidBottom);
    for (const side of ["left", "right"]) {
      this.set(`lid-top-${side}`, "y", 84 + top * 20 - 2);
      this.set(`lid-bottom-${side}`, "y", 112 - bottom * 14);
      this.set(`iris-${side}`, "transform", `translate(${face.gazeX.toFixed(2)} ${face.gazeY.toFixed(2)})`);
    }
    this.set("cheek-left", "opacity", 0.12 + face.cheek * 0.5);
    this.set("cheek-right", "opacity", 0.12 + face.cheek * 0.5);
    this.set("cheek-left", "cy", 142 - face.cheek * 4);
    this.set("cheek-right", "cy", 142 - face.cheek * 4);

    // Mouth: corners from the width and the smile; lips from the opening; rounding pulls the corners in
    // and makes the outline round.
    const cx = 100;
    const base = 164;
    const half = 11 + width * 16 - round * 4;
    const corner = base - face.smile * 9 + open * 2;
    const topY = base - 1.5 - open * 5 - round * 2 - face.smile * 1.5;
    const bottomY = base + 1.5 + open * 20 + round * 3 + Math.max(0, face.smile) * 2;
    const c = 0.55 + round * 0.35; // control points: wide (flat lips) to round
    const outline =
      `M${(cx - half).toFixed(2)} ${corner.toFixed(2)} ` +
      `C${(cx - half * c).toFixed(2)} ${topY.toFixed(2)} ${(cx + half * c).toFixed(2)} ${topY.toFixed(2)} ${(cx + half).toFixed(2)} ${corner.toFixed(2)} ` +
      `C${(cx + half * c).toFixed(2)} ${bottomY.toFixed(2)} ${(cx - half * c).toFixed(2)} ${bottomY.toFixed(2)} ${(cx - half).toFixed(2)} ${corner.toFixed(2)} Z`;
    this.set("mouth", "d", outline);
    this.set("mouth-clip", "d", outline);
    this.set("lips", "d", outline);
    this.set("lips", "stroke-width", 3 + (1 - Math.min(1, open * 4)) * 1.5); // pressed lips look fuller
    this.set("teeth", "y", topY - 8 + teeth * 8.5);
    this.set("teeth", "opacity", teeth > 0.05 && open > 0.05 ? 1 : 0);
    this.set("tongue", "cy", bottomY - 2 - tongue * 6);
    this.set("tongue", "opacity", open > 0.08 ? 0.4 + tongue * 0.6 : 0);
  }
}

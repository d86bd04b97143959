// The built-in avatar: an SVG face whose mouth follows the reply's viseme track in sync with its audio,
// whose brows and mouth corners follow the reply's emotion and intensity, and which blinks when idle.
// `interrupt` stops the audio and closes the mouth at once.

import type { Emotion, ReplyEvent, Viseme } from "./protocol.js";

/** Mouth opening (0-1) and width (0-1) per Oculus viseme. */
const MOUTH: Record<string, [number, number]> = {
  sil: [0.0, 0.5], PP: [0.0, 0.45], FF: [0.15, 0.55], TH: [0.25, 0.55], DD: [0.35, 0.55],
  kk: [0.4, 0.55], CH: [0.35, 0.45], SS: [0.2, 0.65], nn: [0.25, 0.55], RR: [0.3, 0.4],
  aa: [0.9, 0.6], E: [0.55, 0.7], I: [0.4, 0.75], O: [0.7, 0.35], U: [0.45, 0.25],
};
const SVG_NS = "http://www.w3.org/2000/svg";

export class Avatar {
  readonly element: SVGSVGElement;
  private readonly mouth: SVGPathElement;
  private readonly brows: SVGPathElement[];
  private readonly eyes: SVGEllipseElement[];
  private context: AudioContext | null = null;
  private queue: Promise<void> = Promise.resolve();
  private playing: AudioBufferSourceNode | null = null;
  private track: Viseme[] = [];
  private startedAt = 0;
  private emotion: Emotion = "Neutral";
  private intensity = 0.3;
  private generation = 0;
  /** What the mouth shows now (tests sample it during playback). */
  viseme = "sil";
  speaking = false;

  constructor(container: HTMLElement, private readonly onSpeaking: (speaking: boolean) => void) {
    this.element = document.createElementNS(SVG_NS, "svg");
    this.element.setAttribute("viewBox", "0 0 200 220");
    this.element.setAttribute("role", "img");
    this.element.setAttribute("aria-label", "The assistant's avatar");
    this.element.innerHTML = `
      <ellipse cx="100" cy="110" rx="78" ry="95" class="skin"/>
      <ellipse cx="70" cy="95" rx="9" ry="9" class="eye"/>
      <ellipse cx="130" cy="95" rx="9" ry="9" class="eye"/>
      <path class="brow" d="M55 75 Q70 68 85 75"/>
      <path class="brow" d="M115 75 Q130 68 145 75"/>
      <path class="mouth" d="M75 150 Q100 155 125 150 Q100 155 75 150 Z"/>`;
    container.append(this.element);
    this.mouth = this.element.querySelector(".mouth") as SVGPathElement;
    this.brows = Array.from(this.element.querySelectorAll(".brow")) as SVGPathElement[];
    this.eyes = Array.from(this.element.querySelectorAll(".eye")) as SVGEllipseElement[];
    this.express("Neutral", 0.3);
    this.blinkLater();
    requestAnimationFrame(() => this.animate());
  }

  /** Queue one reply sentence: its audio plays after the previous one, the mouth follows its visemes. */
  say(reply: ReplyEvent): void {
    const generation = this.generation;
    this.queue = this.queue.then(() => (generation === this.generation ? this.play(reply) : undefined));
  }

  private async play(reply: ReplyEvent): Promise<void> {
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

  private setSpeaking(value: boolean): void {
    if (this.speaking !== value) {
      this.speaking = value;
      this.onSpeaking(value);
    }
  }

  express(emotion: Emotion, intensity: number): void {
    this.emotion = emotion;
    this.intensity = Math.max(0, Math.min(1, intensity));
    this.element.dataset.emotion = emotion;
    const k = this.intensity;
    const browTilt = { Neutral: 0, Happy: -3 * k, Sad: 8 * k, Angry: -10 * k }[emotion];
    const [left, right] = this.brows;
    // Sad: inner ends up; angry: inner ends down.
    left.setAttribute("d", `M55 ${75 - (emotion === "Sad" ? -browTilt / 2 : 0)} Q70 ${68 + browTilt / 3} 85 ${75 + browTilt}`);
    right.setAttribute("d", `M115 ${75 + browTilt} Q130 ${68 + browTilt / 3} 145 ${75 - (emotion === "Sad" ? -browTilt / 2 : 0)}`);
    this.drawMouth(MOUTH[this.viseme] ?? MOUTH.sil);
  }

  private drawMouth([open, width]: [number, number]): void {
    const smile = { Neutral: 0, Happy: 10, Sad: -8, Angry: -4 }[this.emotion] * this.intensity;
    const half = 18 + width * 16;
    const top = 150 - open * 6 - smile / 2;
    const bottom = 150 + open * 22 - smile / 2;
    const corners = 150 - smile;
    this.mouth.setAttribute(
      "d",
      `M${100 - half} ${corners} Q100 ${top} ${100 + half} ${corners} Q100 ${bottom + smile} ${100 - half} ${corners} Z`,
    );
  }

  private animate(): void {
    let current = "sil";
    if (this.playing && this.context) {
      const t = this.context.currentTime - this.startedAt;
      for (const viseme of this.track) {
        if (viseme.t <= t) current = viseme.viseme;
        else break;
      }
    }
    if (current !== this.viseme) {
      this.viseme = current;
      this.element.dataset.viseme = current;
      this.drawMouth(MOUTH[current] ?? MOUTH.sil);
    }
    requestAnimationFrame(() => this.animate());
  }

  private blinkLater(): void {
    window.setTimeout(() => {
      for (const eye of this.eyes) eye.setAttribute("ry", "1");
      window.setTimeout(() => {
        for (const eye of this.eyes) eye.setAttribute("ry", "9");
        this.blinkLater();
      }, 140);
    }, 2500 + Math.random() * 3000);
  }
}

// The session's emotion timeline: one column per turn, one lane per emotion. The fused emotion is a
// filled dot (its size is the intensity); face, voice and words are small marks in their own lanes, so
// disagreement (and masking) is visible at a glance.

import { EMOTIONS, type FusedEvent } from "./protocol.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const LANE = 28;
const LEFT = 70;
const STEP = 36;
const MARK: Record<string, number> = { face: -8, voice: 0, text: 8 };

export class Timeline {
  readonly element: SVGSVGElement;
  private readonly points: FusedEvent[] = [];

  constructor(container: HTMLElement) {
    this.element = document.createElementNS(SVG_NS, "svg");
    this.element.setAttribute("role", "img");
    this.element.setAttribute("aria-label", "Emotion timeline of this session");
    container.append(this.element);
    this.draw();
  }

  get length(): number {
    return this.points.length;
  }

  add(point: FusedEvent): void {
    this.points.push(point);
    this.draw();
  }

  private draw(): void {
    const width = LEFT + Math.max(6, this.points.length + 1) * STEP;
    const height = EMOTIONS.length * LANE + 10;
    this.element.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.element.setAttribute("width", String(width));
    this.element.setAttribute("height", String(height));
    const parts: string[] = [];
    EMOTIONS.forEach((emotion, lane) => {
      const y = 10 + lane * LANE + LANE / 2;
      parts.push(`<text x="4" y="${y + 4}" class="lane-label">${emotion}</text>`);
      parts.push(`<line x1="${LEFT}" x2="${width}" y1="${y}" y2="${y}" class="lane"/>`);
    });
    this.points.forEach((point, i) => {
      const x = LEFT + (i + 1) * STEP;
      const laneY = (emotion: string | null | undefined) => 10 + EMOTIONS.indexOf(emotion as never) * LANE + LANE / 2;
      for (const [name, offset] of Object.entries(MARK)) {
        const share = point.modalities[name as "face" | "voice" | "text"];
        if (share?.emotion) {
          parts.push(`<rect x="${x + offset - 3}" y="${laneY(share.emotion) - 3}" width="6" height="6" class="mark ${name}"><title>${name}: ${share.emotion}</title></rect>`);
        }
      }
      const radius = 4 + point.intensity * 8;
      const flags = [point.masking ? "masking" : "", point.conflict ? "conflict" : ""].filter(Boolean).join(" ");
      parts.push(
        `<circle cx="${x}" cy="${laneY(point.emotion)}" r="${radius.toFixed(1)}" class="fused ${point.emotion} ${flags}">` +
          `<title>turn ${i + 1}: ${point.emotion}, intensity ${point.intensity.toFixed(2)} ${flags}</title></circle>`,
      );
    });
    this.element.innerHTML = parts.join("");
  }
}

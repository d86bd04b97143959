// The session's emotion timeline: a uPlot chart (time on x, the four emotions as lanes on y) with the
// fused emotion as a line through its turns and face, voice and words as marks of their own shape
// (square, triangle, diamond) beside it, so disagreement and masking show at a glance; a legend names
// each. The same points fill a real <table> (in a <details>) for keyboard and screen-reader users: the
// chart is a picture, the table is the data.

import { EMOTIONS, type Emotion, type FusedEmotionEvent } from "./protocol.js";
import uPlot from "./vendor/uPlot.esm.js";

type Modality = "face" | "voice" | "text";
type Shape = "square" | "triangle" | "diamond";

/** How each modality is drawn: its legend label says the shape too (colour is never the only cue). */
const MODALITIES: { key: Modality; label: string; shape: Shape; glyph: string; offset: number; color: string }[] = [
  { key: "face", label: "face", shape: "square", glyph: "■", offset: 0.32, color: "--mark-face" },
  { key: "voice", label: "voice", shape: "triangle", glyph: "▲", offset: -0.32, color: "--mark-voice" },
  { key: "text", label: "words", shape: "diamond", glyph: "◆", offset: 0, color: "--mark-words" },
];
const HEIGHT = 210;

function lane(emotion: Emotion | null | undefined): number | null {
  const index = EMOTIONS.indexOf(emotion as Emotion);
  return index < 0 ? null : index;
}

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function clock(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** Points of one shape, drawn on uPlot's canvas at each (x, y) of the series. */
function marks(shape: Shape): uPlot.Series.Points.PathBuilder {
  return (u, seriesIdx, idx0, idx1) => {
    const path = new Path2D();
    const xs = u.data[0];
    const ys = u.data[seriesIdx];
    const r = 5 * devicePixelRatio;
    for (let i = idx0; i <= idx1; i++) {
      const y = ys[i];
      if (y === null || y === undefined) continue;
      const cx = u.valToPos(xs[i], "x", true);
      const cy = u.valToPos(y, "y", true);
      if (shape === "square") path.rect(cx - r * 0.85, cy - r * 0.85, r * 1.7, r * 1.7);
      else {
        const corners =
          shape === "triangle"
            ? [[cx, cy - r], [cx + r, cy + r * 0.8], [cx - r, cy + r * 0.8]]
            : [[cx, cy - r * 1.15], [cx + r, cy], [cx, cy + r * 1.15], [cx - r, cy]];
        path.moveTo(corners[0][0], corners[0][1]);
        for (const [x, yy] of corners.slice(1)) path.lineTo(x, yy);
        path.closePath();
      }
    }
    return { fill: path, stroke: path };
  };
}

export class Timeline {
  readonly element: HTMLElement;
  private readonly points: FusedEmotionEvent[] = [];
  private chart: uPlot | null = null;
  /** The time labels on the x axis as last drawn (tests read them: the canvas cannot be read). */
  xTicks: string[] = [];

  constructor(
    container: HTMLElement,
    private readonly table: HTMLTableSectionElement,
  ) {
    this.element = container;
    this.build();
    new ResizeObserver(() => this.resize()).observe(container);
  }

  get length(): number {
    return this.points.length;
  }

  /** Drawn again from the theme's colours (called when the theme changes). */
  rebuild(): void {
    this.chart?.destroy();
    this.chart = null;
    this.build();
  }

  add(point: FusedEmotionEvent): void {
    this.points.push(point);
    this.chart?.setData(this.data());
    this.addRow(point);
  }

  private data(): uPlot.AlignedData {
    const xs = this.points.map((p) => p.ts);
    const fused = this.points.map((p) => lane(p.emotion));
    const modal = MODALITIES.map(({ key, offset }) =>
      this.points.map((p) => {
        const y = lane(p.modalities[key]?.emotion);
        return y === null ? null : y + offset;
      }),
    );
    return [xs, fused, ...modal];
  }

  private build(): void {
    const fg = css("--fg");
    const grid = css("--line");
    const series: uPlot.Series[] = [
      {},
      {
        label: "overall (line ○)",
        stroke: css("--mark-fused"),
        width: 2,
        // A ring: the words' diamond sits at the lane's centre, inside it, still visible.
        points: { show: true, size: 16, width: 2, fill: "transparent", stroke: css("--mark-fused"), space: 0 },
      },
      ...MODALITIES.map(({ label, shape, glyph, color }) => ({
        label: `${label} (${glyph})`,
        stroke: css(color),
        fill: css(color),
        width: 0,
        paths: () => null, // marks only, no line: a modality's reading is not a trajectory
        points: { show: true, space: 0, paths: marks(shape), fill: css(color), stroke: css(color) },
      })),
    ];
    const options: uPlot.Options = {
      width: Math.max(240, this.element.clientWidth),
      height: HEIGHT,
      series,
      scales: {
        x: {
          time: true,
          // From the turns themselves (uPlot widens a single instant to days): a window of at least a
          // minute around them, so the axis shows clock times a few seconds apart.
          range: (u) => {
            const xs = u.data[0] as number[];
            const first = xs.length ? xs[0] : Date.now() / 1000;
            const last = xs.length ? xs[xs.length - 1] : first;
            const pad = Math.max(5, (60 - (last - first)) / 2);
            return [first - pad, last + pad];
          },
        },
        y: { auto: false, range: [-0.6, EMOTIONS.length - 0.4] },
      },
      axes: [
        {
          label: "time",
          stroke: fg,
          space: 80, // room for "18:28:20" between ticks
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          values: (_u, splits) => {
            this.xTicks = splits.map(clock);
            return this.xTicks;
          },
        },
        {
          label: "emotion",
          stroke: fg,
          size: 70,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          splits: () => EMOTIONS.map((_, i) => i),
          values: (_u, splits) => splits.map((v) => EMOTIONS[v] ?? ""),
        },
      ],
      legend: { live: false },
      cursor: { show: false },
    };
    this.chart = new uPlot(options, this.points.length ? this.data() : [[Date.now() / 1000], [null], [null], [null], [null]], this.element);
    const canvas = this.element.querySelector("canvas");
    canvas?.setAttribute("role", "img");
    canvas?.setAttribute("aria-label", "Emotion timeline chart; the same data is in the table below");
  }

  private resize(): void {
    const width = Math.max(240, this.element.clientWidth);
    if (this.chart && Math.abs(this.chart.width - width) > 1) this.chart.setSize({ width, height: HEIGHT });
  }

  private addRow(point: FusedEmotionEvent): void {
    const row = document.createElement("tr");
    const flags = [point.masking ? "masking" : "", point.conflict ? "mixed signals" : ""].filter(Boolean).join(", ");
    const reading = (key: Modality) => {
      const share = point.modalities[key];
      return share?.emotion ? `${share.emotion} ${Math.round(share.confidence * 100)}%` : "–";
    };
    const cells = [
      clock(point.ts),
      point.emotion,
      `${Math.round(point.intensity * 100)}%`,
      reading("face"),
      reading("voice"),
      reading("text"),
      flags || "–",
    ];
    cells.forEach((text, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.setAttribute("scope", "row");
      cell.textContent = text;
      row.append(cell);
    });
    this.table.append(row);
  }
}

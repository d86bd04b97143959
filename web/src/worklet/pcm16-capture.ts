// The microphone's AudioWorklet: mono, resampled to 16 kHz, PCM16 little-endian, 40 ms chunks.
// Runs on the audio thread; posts each chunk (an ArrayBuffer, transferred) to the main thread.

declare const sampleRate: number;
declare function registerProcessor(name: string, processor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
interface MessagePort {
  postMessage(message: unknown, transfer?: unknown[]): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 640; // 40 ms at 16 kHz: inside the protocol's 20-100 ms

class Pcm16Capture extends AudioWorkletProcessor {
  private readonly step = sampleRate / TARGET_RATE;
  private position = 0; // fractional read position into the incoming stream, in input samples
  private previous = 0; // last input sample of the previous block, for interpolation across blocks
  private chunk = new Int16Array(CHUNK_SAMPLES);
  private filled = 0;
  private muted = false;

  constructor() {
    super();
    this.port.onmessage = (event) => {
      const data = event.data as { muted?: boolean };
      if (typeof data.muted === "boolean") {
        this.muted = data.muted;
        this.filled = 0;
      }
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    if (!channels || channels.length === 0 || this.muted) return true;
    const length = channels[0].length;
    const mono = new Float32Array(length);
    for (const channel of channels) for (let i = 0; i < length; i++) mono[i] += channel[i] / channels.length;
    // Linear interpolation between input samples; position runs from -1 (the previous block's last
    // sample) to length - 1. A light resampler: speech energy sits well below 8 kHz.
    while (this.position < length - 1) {
      const index = Math.floor(this.position);
      const frac = this.position - index;
      const a = index < 0 ? this.previous : mono[index];
      const b = mono[index + 1];
      const value = Math.max(-1, Math.min(1, a + (b - a) * frac));
      this.chunk[this.filled++] = value < 0 ? value * 0x8000 : value * 0x7fff;
      if (this.filled === CHUNK_SAMPLES) {
        const out = this.chunk.buffer;
        this.port.postMessage(out, [out]);
        this.chunk = new Int16Array(CHUNK_SAMPLES);
        this.filled = 0;
      }
      this.position += this.step;
    }
    this.position -= length;
    this.previous = mono[length - 1];
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);

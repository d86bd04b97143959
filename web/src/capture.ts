// Camera and microphone capture. The camera is downscaled into a canvas and JPEG-encoded at the chosen
// frame rate; the microphone runs through an AudioWorklet that resamples to 16 kHz PCM16 in 40 ms
// chunks. Both go out as binary frames. Nothing is opened without that device's consent.

import { packBinary } from "./binary.js";
import { KIND_AUDIO, KIND_VIDEO } from "./protocol.js";

// Frames fit in 320x240 with the camera's aspect ratio kept: a squeezed face is not a face to a detector.
const FRAME_WIDTH = 320;
const FRAME_HEIGHT = 240;

export class Camera {
  private stream: MediaStream | null = null;
  private timer = 0;
  private seq = 0;
  private readonly canvas = document.createElement("canvas");
  muted = false;
  sent = 0;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly send: (frame: ArrayBuffer) => boolean,
  ) {}

  async start(fps: number): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.setRate(fps);
  }

  setRate(fps: number): void {
    window.clearInterval(this.timer);
    if (this.stream) this.timer = window.setInterval(() => void this.grab(), 1000 / Math.max(1, Math.min(15, fps)));
  }

  private async grab(): Promise<void> {
    if (this.muted || this.video.readyState < 2) return;
    const scale = Math.min(1, FRAME_WIDTH / this.video.videoWidth, FRAME_HEIGHT / this.video.videoHeight);
    const width = Math.round(this.video.videoWidth * scale);
    const height = Math.round(this.video.videoHeight * scale);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const context = this.canvas.getContext("2d");
    if (!context || width < 16 || height < 16) return;
    context.drawImage(this.video, 0, 0, width, height);
    const blob = await new Promise<Blob | null>((resolve) => this.canvas.toBlob(resolve, "image/jpeg", 0.8));
    if (blob && this.send(packBinary(KIND_VIDEO, ++this.seq, await blob.arrayBuffer()))) this.sent += 1;
  }

  stop(): void {
    window.clearInterval(this.timer);
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
  }
}

export class Microphone {
  private stream: MediaStream | null = null;
  private context: AudioContext | null = null;
  private node: AudioWorkletNode | null = null;
  private seq = 0;
  private mutedFlag = false;
  sent = 0;

  constructor(
    private readonly send: (frame: ArrayBuffer) => boolean,
    /** The chunk's loudness (RMS, 0-1): the avatar listens while the person talks. */
    private readonly onLevel: (rms: number) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
      video: false,
    });
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule("/static/app/pcm16-capture.js");
    const source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "pcm16-capture");
    this.node.port.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      if (this.send(packBinary(KIND_AUDIO, ++this.seq, event.data))) this.sent += 1;
      this.onLevel(rms(new Int16Array(event.data)));
    };
    source.connect(this.node);
    // Not connected to the speakers: the worklet only needs to run, not to be heard.
  }

  get muted(): boolean {
    return this.mutedFlag;
  }

  set muted(value: boolean) {
    this.mutedFlag = value;
    this.node?.port.postMessage({ muted: value });
  }

  stop(): void {
    this.node?.disconnect();
    this.stream?.getTracks().forEach((track) => track.stop());
    void this.context?.close();
    this.stream = null;
    this.context = null;
    this.node = null;
  }
}

function rms(samples: Int16Array): number {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return samples.length ? Math.sqrt(sum / samples.length) / 32768 : 0;
}

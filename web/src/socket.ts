// One WebSocket to the gateway that reconnects with backoff and resumes: after a drop it logs in again
// (the cookie), re-sends the preferences, and the capture loops keep going.

import type { ServerEvent } from "./protocol.js";

export type SocketState = "connecting" | "ready" | "reconnecting" | "closed";

export class GatewaySocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  sessionId = "";

  constructor(
    private readonly onEvent: (event: ServerEvent) => void,
    private readonly onState: (state: SocketState, detail: string) => void,
    private readonly onReady: () => void,
  ) {}

  get ready(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.sessionId !== "";
  }

  open(): void {
    this.stopped = false;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.sessionId = "";
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting", "");
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: "" })); // the login cookie went with the handshake
    ws.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      const event = JSON.parse(message.data) as ServerEvent;
      if (event.type === "ready") {
        this.attempt = 0;
        this.sessionId = event.session_id;
        this.onState("ready", this.sessionId);
        this.onReady();
      }
      this.onEvent(event);
    };
    ws.onclose = (close) => {
      this.sessionId = "";
      if (this.stopped) return;
      if (close.code === 4001) {
        // The login ended (logout elsewhere, expiry, deletion): reconnecting cannot help.
        this.onState("closed", close.reason || "your login ended");
        return;
      }
      const delay = Math.min(30_000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.onState("reconnecting", `connection lost; retrying in ${(delay / 1000).toFixed(1)} s`);
      window.setTimeout(() => {
        if (!this.stopped) this.open();
      }, delay);
    };
  }

  send(message: object): void {
    if (this.ready) this.ws!.send(JSON.stringify(message));
  }

  sendBinary(frame: ArrayBuffer): boolean {
    if (!this.ready || this.ws!.bufferedAmount > 1_000_000) return false; // never queue media behind a slow link
    this.ws!.send(frame);
    return true;
  }

  close(): void {
    this.stopped = true;
    this.ws?.close(1000, "bye");
  }
}

// The MrrrMe web client: landing, sign-up / login, consent per device, then the conversation with the
// live emotion panel, the timeline and the avatar. Served by the gateway at `/`.

import { api, ApiError, type Consent } from "./api.js";
import { Avatar } from "./avatar.js";
import { AvatarChoice } from "./avatar-choice.js";
import { Camera, Microphone } from "./capture.js";
import { EMOTIONS, type Emotion, type FusedEmotionEvent, type ServerEvent } from "./protocol.js";
import { GatewaySocket, type SocketState } from "./socket.js";
import { Timeline } from "./timeline.js";

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
};

/** Where focus goes when a view opens: the first thing to do there, not a heading to read past. */
const FOCUS: Record<string, string> = { landing: "#username", consent: "#consent h2", app: "#say" };

function show(view: "landing" | "consent" | "app"): void {
  for (const name of ["landing", "consent", "app"]) $(name).hidden = name !== view;
  document.querySelector<HTMLElement>(FOCUS[view])?.focus();
}

function status(text: string): void {
  $("status").textContent = text;
}

// --- landing: sign up / log in -------------------------------------------------------------------

// One form, two modes: the radio chooses, the one submit button says which, and Enter submits the mode
// on screen (a new user pressing Enter signs up; they never get "invalid username or password").
function authMode(): "signup" | "login" {
  return $<HTMLFormElement>("auth-form").querySelector<HTMLInputElement>("input[name=mode]:checked")?.value === "login"
    ? "login"
    : "signup";
}

function showAuthMode(): void {
  const mode = authMode();
  $("auth-form").dataset.mode = mode;
  $("auth-submit").textContent = mode === "signup" ? "Create account" : "Log in";
  $<HTMLInputElement>("password").autocomplete = mode === "signup" ? "new-password" : "current-password";
  $("password-hint").hidden = mode === "login";
  $("username-hint").hidden = mode === "login";
  $("auth-error").textContent = "";
}

function setupLanding(): void {
  const form = $<HTMLFormElement>("auth-form");
  const error = $("auth-error");
  for (const radio of form.querySelectorAll<HTMLInputElement>("input[name=mode]")) {
    radio.addEventListener("change", showAuthMode);
  }
  showAuthMode();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $<HTMLInputElement>("username").value.trim();
    const password = $<HTMLInputElement>("password").value;
    error.textContent = "";
    try {
      if (authMode() === "signup") await api.signup(username, password);
      else await api.login(username, password);
      $<HTMLInputElement>("password").value = "";
      await toConsent();
    } catch (exc) {
      error.textContent = exc instanceof ApiError ? exc.message : String(exc);
    }
  });
}

// --- consent ---------------------------------------------------------------------------------------

/** Who is logged in: their own avatar file (if any) is kept in this browser under this name. */
let account = "";

async function toConsent(): Promise<void> {
  const me = await api.me();
  account = me.username;
  $("who").textContent = me.username;
  $<HTMLInputElement>("consent-camera").checked = me.consent.camera;
  $<HTMLInputElement>("consent-microphone").checked = me.consent.microphone;
  show("consent");
}

function setupConsent(): void {
  $<HTMLFormElement>("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const consent: Consent = {
      camera: $<HTMLInputElement>("consent-camera").checked,
      microphone: $<HTMLInputElement>("consent-microphone").checked,
    };
    await api.setConsent(consent);
    await startSession(consent);
  });
}

// --- the conversation ------------------------------------------------------------------------------

const avatar = new Avatar($("avatar"), (speaking) => {
  $("avatar").dataset.speaking = String(speaking);
});
const avatarChoice = new AvatarChoice(
  $("avatar"),
  avatar,
  { file: $<HTMLInputElement>("avatar-file"), reset: $<HTMLButtonElement>("avatar-builtin"), message: $("avatar-message") },
  status,
);
const timeline = new Timeline($("timeline"), $("timeline-table").querySelector("tbody")!);
let socket: GatewaySocket;
let camera: Camera | null = null;
let microphone: Microphone | null = null;
const replies = new Map<string, HTMLElement>();
/** Turns the person talked over: a sentence of theirs still in flight must not play. */
const interrupted = new Set<string>();
// For tests and the curious: the live objects (read-only views, nothing secret: no token lives here).
(window as unknown as Record<string, unknown>).mrrrme = {
  avatar,
  get avatar3d() {
    return avatarChoice.current;
  },
  timeline,
  get socket() {
    return socket;
  },
  get camera() {
    return camera;
  },
  get microphone() {
    return microphone;
  },
};

function percent(value: unknown): string {
  return typeof value === "number" ? `${Math.round(value * 100)}%` : "–";
}

/** What the live rows show of a face, voice, text or fused estimate. */
interface Shown {
  emotion: Emotion | null;
  confidence?: number;
  quality?: number | null;
}

function showReading(name: string, event: Shown): void {
  const row = $(`live-${name}`);
  row.querySelector(".emotion")!.textContent = event.emotion ?? "none";
  row.querySelector(".confidence")!.textContent = percent(event.confidence);
  const quality = row.querySelector(".quality");
  if (quality) quality.textContent = percent(event.quality);
  row.dataset.emotion = String(event.emotion ?? "");
}

function showFused(event: FusedEmotionEvent): void {
  // The fused event has no `confidence`: how sure it is, is the probability of the emotion it chose.
  // Its intensity (how strongly that emotion shows) is a different number, shown under its own name.
  const confidence = event.probabilities?.[EMOTIONS.indexOf(event.emotion)];
  showReading("fused", { emotion: event.emotion, confidence });
  $("fused-intensity").textContent = `Overall intensity: ${percent(event.intensity)}`;
  const flags: string[] = [];
  if (event.masking) flags.push("Possible masking: a smiling face, but the voice or words sound sad or angry.");
  if (event.conflict) flags.push("Mixed signals: face, voice and words disagree.");
  $("flags").textContent = flags.join(" ");
  if (!event.live) timeline.add(event);
}

function addLine(role: "user" | "assistant", text: string): HTMLElement {
  const line = document.createElement("li");
  line.className = role;
  line.textContent = text; // text, never HTML: a reply cannot inject markup
  $("conversation").append(line);
  line.scrollIntoView({ block: "nearest" });
  return line;
}

function onEvent(event: ServerEvent): void {
  switch (event.type) {
    case "ready":
      socket.send({ type: "preferences", ...preferences() });
      // Consent may have changed (another tab) while the socket was down: what the server holds wins.
      void applyConsent(event.consent);
      break;
    case "face_emotion":
      showReading("face", event);
      break;
    case "voice_emotion":
      showReading("voice", event);
      break;
    case "text_emotion":
      showReading("text", event);
      break;
    case "fused_emotion":
      showFused(event);
      break;
    case "transcript":
      $("transcript").textContent = event.text || "…";
      if (event.text) addLine("user", event.text);
      break;
    case "llm_response": {
      const reply = event;
      if (interrupted.has(reply.turn_id)) break;
      const line = replies.get(reply.turn_id) ?? addLine("assistant", "");
      replies.set(reply.turn_id, line);
      line.textContent = `${line.textContent} ${reply.text}`.trim();
      avatar.say(reply);
      if (reply.final) void refreshStats();
      break;
    }
    case "interrupt":
      avatar.stop();
      if (event.turn_id) interrupted.add(event.turn_id);
      break;
    case "consent":
      status(`Consent now: camera ${event.camera ? "on" : "off"}, microphone ${event.microphone ? "on" : "off"}.`);
      void applyConsent({ camera: event.camera, microphone: event.microphone });
      break;
    case "error":
      status(event.message);
      break;
  }
}

function onState(state: SocketState, detail: string): void {
  $("connection").textContent = { connecting: "connecting…", ready: "connected", reconnecting: "reconnecting…", closed: "disconnected" }[state];
  if (detail && state !== "ready") status(detail);
  if (state === "closed") void toLanding();
}

function preferences(): Record<string, string> {
  const value = (id: string) => $<HTMLSelectElement>(id).value;
  return { voice: value("pref-voice"), language: value("pref-language"), personality: value("pref-personality"), style: value("pref-style") };
}

async function refreshStats(): Promise<void> {
  const stats = await api.stats();
  const mine = stats.conversations[socket.sessionId] ?? stats.overall;
  const top = Object.entries(mine.emotions).sort((a, b) => b[1] - a[1])[0];
  $("stats").textContent =
    `${mine.turns} turn(s) this session; mostly ${top && top[1] ? top[0] : "–"}; average intensity ` +
    `${mine.average_intensity === null ? "–" : mine.average_intensity.toFixed(2)}; masking ${mine.masking}, conflicts ${mine.conflicts}.`;
}

async function startSession(consent: Consent): Promise<void> {
  show("app");
  void avatarChoice.restore(account);
  socket = new GatewaySocket(onEvent, onState, () => undefined);
  socket.open();
  await applyConsent(consent);
  window.clearInterval(reminder);
  // A reminder every 3 hours of continuous use that this is an AI (TARGETS.md P6).
  reminder = window.setInterval(() => status("Reminder: you are talking with an AI, not a person."), REMINDER_MS);
}

let consentNow: Consent = { camera: false, microphone: false };
let consentChain: Promise<void> = Promise.resolve();

/** Make the page match a consent: only the allowed devices run and only their controls show. Applied
 * one at a time (the settings toggle, the server's `consent` echo and `ready` may race). */
function applyConsent(consent: Consent): Promise<void> {
  consentChain = consentChain.then(() => applyConsentNow(consent)).catch(() => undefined);
  return consentChain;
}

async function applyConsentNow(consent: Consent): Promise<void> {
  consentNow = { camera: consent.camera, microphone: consent.microphone };
  $<HTMLInputElement>("settings-camera").checked = consent.camera;
  $<HTMLInputElement>("settings-microphone").checked = consent.microphone;
  // Withdrawn: stop first (tracks ended, nothing more captured), then update what is shown.
  if (!consent.camera && camera) {
    camera.stop();
    camera = null;
  }
  if (!consent.microphone && microphone) {
    microphone.stop();
    microphone = null;
  }
  showDeviceControls();
  if ($("app").hidden) return; // not in a conversation (yet): open nothing
  const send = (frame: ArrayBuffer) => socket.sendBinary(frame);
  try {
    if (consent.camera && !camera) {
      const opened = new Camera($<HTMLVideoElement>("preview"), send);
      camera = opened;
      resetMute("mute-camera", "camera");
      await opened.start(Number($<HTMLInputElement>("pref-fps").value));
    }
    if (consent.microphone && !microphone) {
      // Speech louder than room noise: the avatar shows it is listening (no VAD here: a cue, not a decision).
      const opened = new Microphone(send, (level) => level > 0.02 && avatar.listen());
      microphone = opened;
      resetMute("mute-microphone", "microphone");
      await opened.start();
    }
  } catch (exc) {
    status(`Could not open a device: ${exc instanceof Error ? exc.message : String(exc)}. Typing still works.`);
  }
}

function showDeviceControls(): void {
  const { camera: cam, microphone: mic } = consentNow;
  $("preview").hidden = !cam;
  $("mute-camera").hidden = !cam;
  $("mute-microphone").hidden = !mic;
  $("text-only").hidden = cam || mic;
}

function resetMute(id: string, label: string): void {
  $(id).setAttribute("aria-pressed", "false");
  $(id).textContent = `Mute ${label}`;
}

async function changeConsent(): Promise<void> {
  const wanted: Consent = {
    camera: $<HTMLInputElement>("settings-camera").checked,
    microphone: $<HTMLInputElement>("settings-microphone").checked,
  };
  const before = consentNow;
  const withdrawing = (before.camera && !wanted.camera) || (before.microphone && !wanted.microphone);
  // A withdrawal stops the device on this page at once, before the server even hears of it.
  if (withdrawing) await applyConsent({ camera: before.camera && wanted.camera, microphone: before.microphone && wanted.microphone });
  try {
    await api.setConsent(wanted);
  } catch (exc) {
    status(exc instanceof ApiError ? exc.message : String(exc));
    await applyConsent(withdrawing ? { camera: before.camera && wanted.camera, microphone: before.microphone && wanted.microphone } : before);
    return;
  }
  await applyConsent(wanted);
  status(`Consent saved: camera ${wanted.camera ? "on" : "off"}, microphone ${wanted.microphone ? "on" : "off"}.`);
}

const REMINDER_MS = 3 * 60 * 60 * 1000;
let reminder = 0;

function stopDevices(): void {
  window.clearInterval(reminder);
  camera?.stop();
  microphone?.stop();
  camera = microphone = null;
  consentNow = { camera: false, microphone: false };
  showDeviceControls();
  avatar.stop();
  avatarChoice.close();
}

async function toLanding(): Promise<void> {
  stopDevices();
  show("landing");
}

function setupApp(): void {
  $<HTMLFormElement>("say-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>("say");
    if (input.value.trim()) socket.send({ type: "speech_end", text: input.value.trim() });
    input.value = "";
  });
  $("say").addEventListener("input", () => avatar.listen(1500)); // typing is talking, in text-only mode
  $("greet").addEventListener("click", () => socket.send({ type: "request_greeting" }));
  for (const id of ["pref-voice", "pref-language", "pref-personality", "pref-style"]) {
    $(id).addEventListener("change", () => socket.send({ type: "preferences", ...preferences() }));
  }
  $("settings-camera").addEventListener("change", () => void changeConsent());
  $("settings-microphone").addEventListener("change", () => void changeConsent());
  $("pref-fps").addEventListener("change", () => camera?.setRate(Number($<HTMLInputElement>("pref-fps").value)));
  const toggle = (id: string, device: () => Camera | Microphone | null, label: string) => {
    $(id).addEventListener("click", () => {
      const target = device();
      if (!target) return;
      target.muted = !target.muted;
      $(id).setAttribute("aria-pressed", String(target.muted));
      $(id).textContent = target.muted ? `Unmute ${label}` : `Mute ${label}`;
    });
  };
  toggle("mute-camera", () => camera, "camera");
  toggle("mute-microphone", () => microphone, "microphone");
  $("logout").addEventListener("click", async () => {
    socket.close();
    await api.logout().catch(() => undefined);
    await toLanding();
  });
  $("delete").addEventListener("click", async () => {
    if (!confirm("Delete your account and everything stored about you? This cannot be undone.")) return;
    socket.close();
    await api.deleteAccount();
    await avatarChoice.forget(account);
    await toLanding();
    status("Your account and all its data were deleted.");
  });
}

function setupTheme(): void {
  const saved = localStorage.getItem("theme");
  if (saved) {
    document.documentElement.dataset.theme = saved;
    timeline.rebuild();
  }
  $("theme").addEventListener("click", () => {
    // The theme on screen now: the saved choice, else the system's.
    const current = document.documentElement.dataset.theme ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    const dark = current !== "dark";
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    localStorage.setItem("theme", dark ? "dark" : "light");
    timeline.rebuild(); // the chart is drawn on a canvas: its colours come from the theme at draw time
  });
}

async function main(): Promise<void> {
  setupTheme();
  setupLanding();
  setupConsent();
  setupApp();
  // Asking /api/session (always 200) rather than /api/me (401 when logged out) keeps a first visit free of
  // console errors; the token itself stays in the HttpOnly cookie.
  const session = await api.session().catch(() => ({ authenticated: false }));
  if (session.authenticated) await toConsent().catch(() => show("landing"));
  else show("landing");
}

void main();

// Settings > Avatar: the built-in drawn face (the default) or the person's own VRM / GLB. The file is read
// in the browser, kept in this browser (avatar-store.ts) and never uploaded. three.js (avatar3d.js) is
// imported only here, the first time a 3D avatar is shown. Any failure says why and keeps the built-in one.

import type { Avatar } from "./avatar.js";
import type { Avatar3D } from "./avatar3d.js";
import type { RigKind } from "./avatar-rig.js";
import { forgetAvatar, loadAvatar, saveAvatar } from "./avatar-store.js";

/** Larger files are refused before parsing (a VRM with 4K textures is ~30 MB; a Ready Player Me head ~5). */
const MAX_BYTES = 100 * 1024 * 1024;
const KINDS: Record<RigKind, string> = { vrm: "VRM expressions", oculus: "Oculus visemes", arkit: "ARKit blendshapes" };

export interface AvatarControls {
  file: HTMLInputElement;
  reset: HTMLButtonElement;
  message: HTMLElement;
}

export class AvatarChoice {
  /** The 3D avatar on screen, or null for the built-in one (tests read its weights). */
  current: Avatar3D | null = null;
  private account = "";
  private attempt = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly builtin: Avatar,
    private readonly controls: AvatarControls,
    /** Failures also go here (the page's status line): the settings panel may be closed. */
    private readonly announce: (text: string) => void,
  ) {
    controls.file.addEventListener("change", () => {
      const file = controls.file.files?.[0];
      controls.file.value = ""; // choosing the same file again is a new choice
      if (file) void this.choose(file);
    });
    controls.reset.addEventListener("click", () => void this.useBuiltin());
  }

  /** A session starts for `account`: show the avatar this browser keeps for it, if any. */
  async restore(account: string): Promise<void> {
    if (account === this.account && this.current) return;
    this.clear();
    this.account = account;
    const stored = await loadAvatar(account).catch(() => null);
    if (stored && account === this.account) await this.show(stored.name, stored.data, false);
  }

  /** Logged out: the next person on this browser starts with the built-in avatar. */
  close(): void {
    this.clear();
    this.account = "";
    this.say("");
  }

  /** The account was deleted: its avatar file goes too. */
  async forget(account: string): Promise<void> {
    await forgetAvatar(account);
    if (account === this.account) this.close();
  }

  private async choose(file: File): Promise<void> {
    if (file.size > MAX_BYTES) {
      this.say(`Could not use "${file.name}": it is larger than ${MAX_BYTES / 1024 / 1024} MB. Showing the built-in avatar.`, true);
      return;
    }
    this.say(`Loading "${file.name}"…`);
    const data = await file.arrayBuffer();
    await this.show(file.name, data, true);
  }

  private async show(name: string, data: ArrayBuffer, save: boolean): Promise<void> {
    const attempt = ++this.attempt;
    let avatar: Avatar3D;
    try {
      const { Avatar3D, AvatarLoadError } = await import("./avatar3d.js").catch((exc: unknown) => {
        throw new Error(`the 3D viewer could not be loaded (${exc instanceof Error ? exc.message : String(exc)}); reload the page to try again`);
      });
      try {
        // The parse takes a copy: the stored bytes stay whole for the next visit.
        avatar = await Avatar3D.load(this.container, data.slice(0), this.builtin);
      } catch (exc) {
        if (exc instanceof AvatarLoadError) throw exc;
        throw new Error(`it could not be shown (${exc instanceof Error ? exc.message : String(exc)})`);
      }
    } catch (exc) {
      if (attempt !== this.attempt) return;
      this.clear();
      // A kept file that no longer loads (a newer three.js, a corrupted store) would fail on every visit.
      if (!save && this.account) await forgetAvatar(this.account);
      const reason = exc instanceof Error ? exc.message : String(exc);
      this.say(`Could not use "${name}": ${reason}. Showing the built-in avatar.`, true);
      return;
    }
    if (attempt !== this.attempt) {
      avatar.dispose(); // a newer choice (or a logout) overtook this one
      return;
    }
    this.clear(false);
    this.current = avatar;
    this.container.dataset.mode = "3d";
    const where = save && this.account ? await saveAvatar(this.account, { name, data, savedAt: Date.now() }) : "browser";
    const kept = where === "browser" ? "It is kept in this browser only" : "It is kept in this page's memory only";
    this.say(`Showing your avatar "${name}" (${KINDS[avatar.kind]}). ${kept} and is never uploaded.`);
    this.controls.reset.hidden = false;
  }

  private async useBuiltin(): Promise<void> {
    this.clear();
    if (this.account) await forgetAvatar(this.account);
    this.say("Showing the built-in avatar; your file was removed from this browser.");
  }

  /** Back to the built-in avatar (`cancel`: also drop a load in flight). */
  private clear(cancel = true): void {
    if (cancel) this.attempt += 1;
    this.current?.dispose();
    this.current = null;
    delete this.container.dataset.mode;
    this.controls.reset.hidden = true;
  }

  private say(text: string, error = false): void {
    this.controls.message.textContent = text;
    this.controls.message.classList.toggle("error", error);
    if (error) this.announce(text);
  }
}

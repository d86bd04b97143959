// A person's own 3D avatar, drawn with three.js: a VRM (through @pixiv/three-vrm's expression presets) or a
// glTF/GLB with ARKit or Oculus viseme morph targets. It has no timing of its own: every frame it reads the
// built-in avatar's state (visemes with their blends, emotion, blinks, head sway, listening; avatar-rig.ts
// maps them), so both avatars move alike and one audio clock drives them.
// This module is bundled with three.js into one file (vendor.mjs) and imported only when a 3D avatar is
// chosen: the default page never loads it. The file comes from memory (an ArrayBuffer), never a URL.

import { VRMLoaderPlugin, VRMUtils, type VRM } from "@pixiv/three-vrm";
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { canonical, morphWeights, rigKind, vrmWeights, type Performer, type RigKind } from "./avatar-rig.js";
import type { Emotion } from "./protocol.js";

/** A reason the file cannot be shown, in words for the person. */
export class AvatarLoadError extends Error {}

const FACE_TAU = 0.18;
const BLINK_TAU = 0.025;
const ease = (dt: number, tau: number) => 1 - Math.exp(-dt / tau);

interface Morphed {
  mesh: THREE.Mesh;
  /** Canonical morph target name -> its index in `morphTargetInfluences`. */
  index: Map<string, number>;
}

export class Avatar3D {
  readonly canvas: HTMLCanvasElement;
  private readonly feelings: Record<Emotion, number> = { Neutral: 0, Happy: 0, Sad: 0, Angry: 0 };
  private blink = 0;
  /** Canonical names of the morph targets this avatar has driven so far. */
  private readonly driven = new Set<string>();
  private frame = 0;
  private last = performance.now();
  private readonly restHead: THREE.Quaternion;
  private readonly resize: ResizeObserver;

  private constructor(
    private readonly container: HTMLElement,
    private readonly performer: Performer,
    private readonly renderer: THREE.WebGLRenderer,
    private readonly scene: THREE.Scene,
    private readonly camera: THREE.PerspectiveCamera,
    readonly kind: RigKind,
    private readonly morphed: Morphed[],
    private readonly head: THREE.Object3D,
    private readonly vrm: VRM | null,
  ) {
    this.canvas = renderer.domElement;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "The assistant's avatar (your 3D model)");
    this.restHead = head.quaternion.clone();
    container.append(this.canvas);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(container);
    this.fit();
    this.frame = requestAnimationFrame(() => this.animate());
  }

  /** Parse and show a .vrm / .glb; throws `AvatarLoadError` saying why it cannot be used. */
  static async load(container: HTMLElement, data: ArrayBuffer, performer: Performer): Promise<Avatar3D> {
    let renderer: THREE.WebGLRenderer;
    try {
      renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true });
    } catch {
      throw new AvatarLoadError("this browser cannot draw 3D (WebGL is off or not available)");
    }
    try {
      return await Avatar3D.build(container, data, performer, renderer);
    } catch (exc) {
      renderer.dispose();
      throw exc;
    }
  }

  private static async build(
    container: HTMLElement,
    data: ArrayBuffer,
    performer: Performer,
    renderer: THREE.WebGLRenderer,
  ): Promise<Avatar3D> {
    const loader = new GLTFLoader();
    loader.register((parser) => new VRMLoaderPlugin(parser));
    let gltf;
    try {
      gltf = await loader.parseAsync(data, "");
    } catch (exc) {
      throw new AvatarLoadError(`it is not a readable VRM or glTF/GLB file (${exc instanceof Error ? exc.message : String(exc)})`);
    }
    const vrm = (gltf.userData.vrm as VRM | undefined) ?? null;
    const root = vrm ? vrm.scene : gltf.scene;
    if (vrm) VRMUtils.rotateVRM0(vrm); // VRM 0.x faces -Z; the camera looks from +Z

    const morphed: Morphed[] = [];
    root.traverse((object) => {
      const mesh = object as THREE.Mesh;
      if (mesh.isMesh && mesh.morphTargetDictionary && mesh.morphTargetInfluences) {
        const index = new Map(Object.entries(mesh.morphTargetDictionary).map(([name, i]) => [canonical(name), i]));
        morphed.push({ mesh, index });
      }
    });
    let kind: RigKind;
    if (vrm) {
      const vowels = ["aa", "ih", "ou", "ee", "oh"].filter((name) => vrm.expressionManager?.getExpression(name));
      if (vowels.length === 0) throw new AvatarLoadError("this VRM has no mouth expressions (aa, ih, ou, ee, oh)");
      kind = "vrm";
    } else {
      const found = rigKind(morphed.flatMap((m) => [...m.index.keys()]));
      if (!found) {
        throw new AvatarLoadError(
          "it has no mouth shapes to move: it needs ARKit blendshapes (jawOpen, mouthFunnel, ...) or Oculus visemes (viseme_aa, ...)",
        );
      }
      kind = found;
    }

    const scene = new THREE.Scene();
    scene.add(root);
    scene.add(new THREE.HemisphereLight(0xffffff, 0x556070, 2.2));
    const key = new THREE.DirectionalLight(0xffffff, 2.2);
    key.position.set(0.5, 1.5, 2);
    scene.add(key);
    root.updateMatrixWorld(true);

    // Frame the face: the head bone if there is one (a full body would be a speck), else the meshes with
    // mouth shapes.
    const head =
      vrm?.humanoid?.getNormalizedBoneNode("head") ??
      root.getObjectByName("Head") ??
      findByName(root, /(^|[^a-z])head$/i) ??
      root;
    const whole = new THREE.Box3().setFromObject(root);
    const center = new THREE.Vector3();
    let height: number;
    if (head !== root) {
      const modelHeight = whole.getSize(new THREE.Vector3()).y;
      height = Math.max(0.25, modelHeight / 6);
      head.getWorldPosition(center);
      center.y += height * 0.15;
    } else {
      const face = new THREE.Box3();
      for (const { mesh } of morphed) face.expandByObject(mesh);
      const box = face.isEmpty() ? whole : face;
      box.getCenter(center);
      const size = box.getSize(new THREE.Vector3());
      height = Math.max(size.y, size.x) * 1.25;
    }
    const camera = new THREE.PerspectiveCamera(28, 1, height / 100, height * 100);
    const distance = height / 2 / Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
    camera.position.set(center.x, center.y, center.z + distance + height * 0.5);
    camera.lookAt(center);
    if (vrm?.lookAt) vrm.lookAt.target = camera; // eyes on the person

    renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    return new Avatar3D(container, performer, renderer, scene, camera, kind, morphed, head, vrm);
  }

  /** The morph target weights as the model has them now (read back from its meshes, by target name; the
   * largest where several meshes share one), and for a VRM its expression weights. */
  weights(): { kind: RigKind; morphs: Record<string, number>; expressions: Record<string, number> } {
    const morphs: Record<string, number> = {};
    for (const { mesh } of this.morphed) {
      for (const [name, i] of Object.entries(mesh.morphTargetDictionary ?? {})) {
        morphs[name] = Math.max(morphs[name] ?? 0, mesh.morphTargetInfluences?.[i] ?? 0);
      }
    }
    const expressions: Record<string, number> = {};
    for (const expression of this.vrm?.expressionManager?.expressions ?? []) {
      expressions[expression.expressionName] = expression.weight;
    }
    return { kind: this.kind, morphs, expressions };
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.canvas.remove();
    VRMUtils.deepDispose(this.scene);
    this.renderer.dispose();
  }

  private fit(): void {
    const width = Math.max(1, this.container.clientWidth);
    const height = Math.round(width * 1.15); // the drawn avatar's proportions (200 x 230)
    this.renderer.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
  }

  private animate(): void {
    const now = performance.now();
    const dt = Math.min(0.1, (now - this.last) / 1000);
    this.last = now;
    const p = this.performer;
    const { emotion, intensity } = p.mood;
    const f = ease(dt, FACE_TAU);
    for (const name of Object.keys(this.feelings) as Emotion[]) {
      const goal = name === emotion ? Math.max(0.25, intensity) : 0;
      this.feelings[name] += (goal - this.feelings[name]) * f;
    }
    this.blink += ((p.blinking ? 1 : 0) - this.blink) * ease(dt, BLINK_TAU);

    if (this.vrm) {
      const manager = this.vrm.expressionManager;
      for (const [name, weight] of Object.entries(vrmWeights(p, this.feelings, this.blink))) {
        if (manager?.getExpression(name)) manager.setValue(name, weight);
      }
    } else {
      const wanted = morphWeights(this.kind as "oculus" | "arkit", p, this.blink);
      const byCanonical = new Map(Object.entries(wanted).map(([name, weight]) => [canonical(name), weight]));
      for (const name of byCanonical.keys()) this.driven.add(name);
      for (const { mesh, index } of this.morphed) {
        for (const [name, i] of index) {
          // A shape driven before and wanted no more (a smile once the face turns sad) goes back to 0;
          // shapes this rig never drives keep the model's own weights.
          const weight = byCanonical.get(name) ?? (this.driven.has(name) ? 0 : undefined);
          if (weight !== undefined) mesh.morphTargetInfluences![i] = weight;
        }
      }
    }
    // Head: the drawn head's sway (degrees of tilt, px of nod on a 230 px face), on the head bone.
    const sway = new THREE.Euler(THREE.MathUtils.degToRad(p.head.nod * 1.2), 0, THREE.MathUtils.degToRad(-p.head.tilt));
    this.head.quaternion.copy(this.restHead).multiply(new THREE.Quaternion().setFromEuler(sway));
    this.vrm?.update(dt);
    this.renderer.render(this.scene, this.camera);
    this.frame = requestAnimationFrame(() => this.animate());
  }
}

function findByName(root: THREE.Object3D, pattern: RegExp): THREE.Object3D | undefined {
  let found: THREE.Object3D | undefined;
  root.traverse((object) => {
    if (!found && pattern.test(object.name)) found = object;
  });
  return found;
}

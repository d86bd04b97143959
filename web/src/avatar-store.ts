// Where a person's own avatar file is kept: this browser's IndexedDB, one entry per account name, so it
// is there on the next visit and never leaves the device (nothing here talks to the server). Without
// IndexedDB (some private windows) it lives in memory for this page only.

export interface StoredAvatar {
  name: string;
  data: ArrayBuffer;
  savedAt: number;
}

const DB = "mrrrme-avatar";
const STORE = "avatars";
const memory = new Map<string, StoredAvatar>();

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = act(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

/** Keep the file for this account; says where it went ("browser" storage or "memory" only). */
export async function saveAvatar(account: string, avatar: StoredAvatar): Promise<"browser" | "memory"> {
  memory.set(account, avatar);
  try {
    await run("readwrite", (store) => store.put(avatar, account));
    return "browser";
  } catch {
    return "memory";
  }
}

export async function loadAvatar(account: string): Promise<StoredAvatar | null> {
  try {
    const stored = await run<StoredAvatar | undefined>("readonly", (store) => store.get(account));
    if (stored?.data instanceof ArrayBuffer) return stored;
  } catch {
    // no IndexedDB here: only what this page was given
  }
  return memory.get(account) ?? null;
}

export async function forgetAvatar(account: string): Promise<void> {
  memory.delete(account);
  try {
    await run("readwrite", (store) => store.delete(account));
  } catch {
    // nothing stored
  }
}

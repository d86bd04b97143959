// The gateway's REST API (docs/protocol.md, REST). The login lives in an HttpOnly cookie: page scripts
// never hold the token, so a script injected into the page could not send it anywhere.

export interface User {
  id: string;
  username: string;
  role: string;
}

export interface Consent {
  camera: boolean;
  microphone: boolean;
}

export interface Me extends User {
  created_at: string;
  consent: Consent;
}

export interface Stats {
  turns: number;
  emotions: Record<string, number>;
  average_intensity: number | null;
  conflicts: number;
  masking: number;
}

/** RFC 9457 problem details, as every REST error answers (gateway/problems.py). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { field: string; message: string }[];
}

// What the person reads for the codes they can act on; any other problem says its own `detail`.
const SENTENCES: Record<string, string> = {
  invalid_credentials: "That username and password do not match an account. New here? Choose “I'm new” above.",
  username_taken: "That username is taken. Choose another one, or log in if it is yours.",
  invalid_username: "Usernames are 3 to 64 characters: letters a-z, digits, and . _ -",
  not_authenticated: "You are not logged in, or your login ended. Please log in again.",
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string = "",
  ) {
    super(message);
  }
}

async function failure(response: Response): Promise<ApiError> {
  try {
    const problem = (await response.json()) as Partial<Problem>;
    const code = typeof problem.code === "string" ? problem.code : "";
    const sentence = SENTENCES[code] ?? (typeof problem.detail === "string" ? problem.detail : problem.title);
    if (sentence) return new ApiError(response.status, sentence, code);
  } catch {
    // not JSON (a proxy's error page): fall through to a generic sentence
  }
  return new ApiError(response.status, `The server could not do that (HTTP ${response.status}). Please try again.`);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const api = {
  signup: (username: string, password: string) => call<{ user: User }>("POST", "/api/signup", { username, password }),
  login: (username: string, password: string) => call<{ user: User }>("POST", "/api/login", { username, password }),
  logout: () => call<void>("POST", "/api/logout"),
  /** Whether the cookie holds a live login: always 200, so a first visit logs no error. */
  session: () => call<{ authenticated: boolean; user: User | null }>("GET", "/api/session"),
  me: () => call<Me>("GET", "/api/me"),
  setConsent: (consent: Consent) => call<Consent>("PUT", "/api/consent", consent),
  stats: () => call<{ overall: Stats; conversations: Record<string, Stats> }>("GET", "/api/stats"),
  deleteAccount: () => call<void>("DELETE", "/api/me"),
};

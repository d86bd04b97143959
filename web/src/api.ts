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

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const problem = (await response.json()) as { detail?: unknown };
      if (typeof problem.detail === "string") message = problem.detail;
      else if (Array.isArray(problem.detail)) message = "please check the form: " + JSON.stringify(problem.detail[0]);
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const api = {
  signup: (username: string, password: string) => call<{ user: User }>("POST", "/api/signup", { username, password }),
  login: (username: string, password: string) => call<{ user: User }>("POST", "/api/login", { username, password }),
  logout: () => call<void>("POST", "/api/logout"),
  me: () => call<Me>("GET", "/api/me"),
  setConsent: (consent: Consent) => call<Consent>("PUT", "/api/consent", consent),
  stats: () => call<{ overall: Stats; conversations: Record<string, Stats> }>("GET", "/api/stats"),
  deleteAccount: () => call<void>("DELETE", "/api/me"),
};

// Calls to the hub's HTTP API v1 with the signed-in token. The token lives in sessionStorage (gone
// when the tab closes) and travels only in the Authorization header, never in an address that a
// log, a history or a Referer keeps.

const TOKEN_KEY = 'hub.console.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function keepToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx, with the hub's problem details (RFC 9457) when it sent them. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly problem: Record<string, unknown> | null) {
    super(message);
  }
}

/** Called when the hub refuses the token (401): the console signs out. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
  const token = storedToken();
  const res = await fetch(withQuery(`/api/v1${path}`, query), {
    headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    cache: 'no-store',
    signal,
  });
  if (!res.ok) {
    let problem: Record<string, unknown> | null = null;
    try {
      problem = (await res.json()) as Record<string, unknown>;
    } catch {
      // Not problem details (a proxy's page): the status says enough.
    }
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, String(problem?.detail ?? problem?.title ?? res.statusText), problem);
  }
  return (await res.json()) as T;
}

/** What the hub says went wrong, in Chinese first, for a message on the page. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const why: Record<number, string> = { 400: '请求有误', 401: '令牌无效或已失效', 403: '此令牌无权查看', 404: '未找到', 503: '服务暂时不可用，请稍后再试' };
    return `${why[err.status] ?? `出错了（${err.status}）`}：${err.message}`;
  }
  if (err instanceof DOMException && err.name === 'AbortError') return '';
  return `无法连接到枢纽：${(err as Error)?.message ?? String(err)}`;
}

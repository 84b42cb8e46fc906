/** One server-sent event as a client sees it. */
export interface SseEvent {
  id: string | null;
  event: string | null;
  data: string;
  /** When it arrived (ms since the epoch). */
  at: number;
}

/** A server-sent-events client over fetch: every event received, in order, until closed. */
/** `ended` settles when the server ends the stream (true), or when the client closed it or it broke (false). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string; events: SseEvent[]; close(): void; ended: Promise<boolean> }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  let ended: Promise<boolean> = Promise.resolve(true);
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    ended = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return true;
          buffer += decoder.decode(value, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const e: SseEvent = { id: null, event: null, data: '', at: Date.now() };
            let hasData = false;
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const [field, ...rest] = line.split(':');
              const value = rest.join(':').replace(/^ /, '');
              if (field === 'id') e.id = value;
              else if (field === 'event') e.event = value;
              else if (field === 'data') { e.data += (hasData ? '\n' : '') + value; hasData = true; }
            }
            if (hasData) events.push(e);
          }
        }
      } catch {
        // closed
        return false;
      }
    })();
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', events, close: () => controller.abort(), ended };
}

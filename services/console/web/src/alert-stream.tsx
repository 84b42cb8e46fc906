// The live alerts (GET /api/v1/alerts/stream) read with fetch() rather than EventSource: an
// EventSource cannot send the Authorization header, and the token must not go in the address. The
// body is read as it arrives and parsed as server-sent events; after a drop the stream reconnects
// with Last-Event-ID, so that no alert is missed or shown twice.
import type { Alert } from './types';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

const RETRY_MS = 2000;

export function openAlertStream(token: string, onAlert: (a: Alert) => void, onState: (s: StreamState) => void): () => void {
  let stopped = false;
  let lastId: string | null = null;
  let controller: AbortController | null = null;

  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('/api/v1/alerts/stream', {
          headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}`, ...(lastId ? { 'Last-Event-ID': lastId } : {}) },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (res.status === 401 || res.status === 403) {
          onState('closed');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`alert stream answered ${res.status}`);
        onState('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = parseEvent(block);
            if (!event) continue;
            if (event.id) lastId = event.id;
            try {
              onAlert(JSON.parse(event.data) as Alert);
            } catch {
              // An event that is not an alert (a newer kind of message): skipped, the stream goes on.
            }
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  };
  onState('connecting');
  void run();
  return () => {
    stopped = true;
    controller?.abort();
    onState('closed');
  };
}

/** One block of the stream: its id and data lines (comments and retry hints carry no alert). */
function parseEvent(block: string): { id: string | null; data: string } | null {
  let id: string | null = null;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { id, data: data.join('\n') } : null;
}

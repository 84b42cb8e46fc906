// 预警: the alerts of the last day (GET /api/v1/alerts) and, above them, those arriving live from
// the stream the console keeps open while signed in (alert-stream.tsx).
import { useEffect, useState } from 'preact/hooks';
import { LIGHT_LABELS } from '../../labels';
import { api, describeError } from './api';
import type { StreamState } from './alert-stream';
import { hrefOf } from './router';
import type { Alert, Page } from './types';
import { ALERT_KIND_LABELS, LightBadge, Loading, Note, Time } from './widgets';

const STATE_LABELS: Record<StreamState, string> = { connecting: '正在连接', live: '实时接收中', reconnecting: '连接中断，正在重连', closed: '未连接' };

export function AlertsView({ live, state }: { live: Alert[]; state: StreamState }) {
  const [recent, setRecent] = useState<Alert[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const since = useState(() => new Date(Date.now() - 86_400_000).toISOString())[0];

  const load = (cursor: string | null, signal?: AbortSignal) =>
    api<Page<Alert>>('/alerts', { since, cursor, limit: 100 }, signal).then((p) => {
      setRecent((r) => [...(cursor ? r ?? [] : []), ...p.items]);
      setNext(p.nextCursor);
    }, (err) => setError(describeError(err)));
  useEffect(() => {
    const abort = new AbortController();
    void load(null, abort.signal);
    return () => abort.abort();
  }, []);

  // One list, newest first: a live alert may also be in the page read at opening.
  const seen = new Set<string>();
  const all = [...live, ...[...(recent ?? [])].reverse()].filter((a) => !seen.has(a.id) && seen.add(a.id));
  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title" tabIndex={-1}>预警</h1>
      <p class={`stream stream-${state}`} id="stream-state" role="status">实时预警：{STATE_LABELS[state]}</p>
      {error && <Note kind="error">{error}</Note>}
      {!recent && !error ? <Loading /> : (
        <table id="alerts-table">
          <caption>最近 24 小时的预警，最新的在上；新预警实时出现</caption>
          <thead><tr><th scope="col">时间</th><th scope="col">级别</th><th scope="col">类型</th><th scope="col">监管码</th><th scope="col">部门</th><th scope="col">内容</th></tr></thead>
          <tbody>
            {all.map((a) => (
              <tr key={a.id} data-alert={a.id} data-code={a.supervisionCode} class={live.includes(a) ? 'live' : ''}>
                <td><Time iso={a.at} /></td>
                <td><LightBadge light={a.level} /></td>
                <td>{ALERT_KIND_LABELS[a.kind] ?? a.kind}</td>
                <td><a class="code" href={hrefOf(`/case/${a.supervisionCode}`)}>{a.supervisionCode}</a></td>
                <td>{a.department.name}</td>
                <td>{a.violation ? a.violation.reason : a.to ? `${a.from ? LIGHT_LABELS[a.from] : '新办件'} → ${LIGHT_LABELS[a.to]}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {recent && all.length === 0 && <Note>最近 24 小时没有预警。</Note>}
      {next && <p><button type="button" onClick={() => void load(next)}>加载更多</button></p>}
    </section>
  );
}

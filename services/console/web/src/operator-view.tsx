// 运维: what an operator's token may see here: the dead letters (records that could not be mapped,
// and why) and the files taken from drop folders. Replays and reloads stay with `hub replay` and
// the API, where they are on record.
import { useEffect, useState } from 'preact/hooks';
import { api, describeError } from './api';
import type { Page } from './types';
import { Loading, Note, Time } from './widgets';

interface DeadLetter { id: string; adapter: string; reason: string; field: string | null; receivedAt: string; replays: number }
interface DropFile { id: string; adapter: string; name: string; outcome: string; records: number | null; accepted: number | null; rejected: number | null; error: string | null; claimedAt: string }

const OUTCOME_LABELS: Record<string, string> = { 'in-progress': '处理中', processed: '已处理', failed: '失败', duplicate: '重复文件' };

function useList<T>(path: string): { items: T[] | null; error: string } {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    api<Page<T>>(path, { limit: 50 }, abort.signal).then((p) => setItems(p.items), (err) => setError(describeError(err)));
    return () => abort.abort();
  }, [path]);
  return { items, error };
}

export function DeadLettersView() {
  const { items, error } = useList<DeadLetter>('/dead-letters');
  return (
    <section aria-labelledby="dl-title">
      <h1 id="dl-title" tabIndex={-1}>死信（无法映射的记录）</h1>
      {error && <Note kind="error">{error}</Note>}
      {!items ? (!error && <Loading />) : items.length ? (
        <table id="dead-letters-table">
          <thead><tr><th scope="col">收到时间</th><th scope="col">部门系统</th><th scope="col">字段</th><th scope="col">原因</th><th scope="col">重放次数</th></tr></thead>
          <tbody>{items.map((d) => <tr key={d.id}><td><Time iso={d.receivedAt} /></td><td>{d.adapter}</td><td class="code">{d.field ?? ''}</td><td>{d.reason}</td><td>{d.replays}</td></tr>)}</tbody>
        </table>
      ) : <Note>没有待处理的死信。</Note>}
    </section>
  );
}

export function FilesView() {
  const { items, error } = useList<DropFile>('/files');
  return (
    <section aria-labelledby="files-title">
      <h1 id="files-title" tabIndex={-1}>文件交换</h1>
      {error && <Note kind="error">{error}</Note>}
      {!items ? (!error && <Loading />) : items.length ? (
        <table id="files-table">
          <thead><tr><th scope="col">取件时间</th><th scope="col">部门系统</th><th scope="col">文件</th><th scope="col">结果</th><th scope="col">记录（受理 / 拒收）</th><th scope="col">原因</th></tr></thead>
          <tbody>{items.map((f) => <tr key={f.id}><td><Time iso={f.claimedAt} /></td><td>{f.adapter}</td><td class="code">{f.name}</td><td>{OUTCOME_LABELS[f.outcome] ?? f.outcome}</td><td>{f.records ?? '—'}（{f.accepted ?? 0} / {f.rejected ?? 0}）</td><td>{f.error ?? ''}</td></tr>)}</tbody>
        </table>
      ) : <Note>还没有收到文件。</Note>}
    </section>
  );
}

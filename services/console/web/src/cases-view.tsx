// 办件: the cases the token sees, filtered by department, hall, light, status and item, a page at a
// time from the hub (GET /api/v1/cases with its cursor): the browser never holds more than a page.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { STATUS_LABELS, LIGHT_LABELS, statusLabel } from '../../labels';
import { api, describeError } from './api';
import { hrefOf, navigate, rememberList } from './router';
import type { CaseSummary, Me, Page } from './types';
import { LightBadge, Loading, Note, Time } from './widgets';

const PAGE_SIZE = 20;
const FILTERS = ['department', 'hall', 'light', 'status', 'item'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;
// The first page has no cursor; in the list of pages before, it is this (cursors are base64url).
const FIRST = '~';
const fromBack = (c: string | undefined) => (c && c !== FIRST ? c : undefined);

export function CasesView({ me, params }: { me: Me; params: Record<string, string> }) {
  const filters: Filters = Object.fromEntries(FILTERS.map((k) => [k, params[k] ?? ''])) as Filters;
  // The cursors of the pages before this one, for 上一页; the page itself is in the address.
  const cursor = params.cursor ?? '';
  const back = params.back ? params.back.split(',') : [];
  const [page, setPage] = useState<Page<CaseSummary> | null>(null);
  // What the page shown was read with: the caption names it, while a new one loads.
  const [shownFor, setShownFor] = useState('');
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    setError('');
    // A hall's code goes in `department`: the list answers a hall's cases for it.
    api<Page<CaseSummary>>('/cases', {
      department: filters.hall || filters.department, light: filters.light, status: filters.status, item: filters.item, limit: PAGE_SIZE, cursor,
    }, abort.signal).then((p) => { setPage(p); setShownFor(describeFilters(me, filters)); setLoading(false); }, (err) => { const m = describeError(err); if (m) { setError(m); setLoading(false); } });
    return () => abort.abort();
  }, [filters.department, filters.hall, filters.light, filters.status, filters.item, cursor]);

  rememberList(hrefOf('/cases', params));
  const go = (next: Filters & { cursor?: string; back?: string }) => navigate('/cases', { ...next });
  return (
    <section aria-labelledby="cases-title">
      <h1 id="cases-title" ref={heading} tabIndex={-1}>办件查询</h1>
      <CaseFilters me={me} value={filters} onApply={(f) => go(f)} />
      {error && <Note kind="error">{error}</Note>}
      {loading && !page ? <Loading /> : page && (
        <>
          <table class="cases" aria-describedby="cases-title" aria-busy={loading}>
            <caption>{shownFor}：第 {back.length + 1} 页{loading ? '（正在刷新）' : ''}，每页 {PAGE_SIZE} 件，按首次收到时间从新到旧</caption>
            <thead>
              <tr><th scope="col">监管码</th><th scope="col">部门</th><th scope="col">事项</th><th scope="col">状态</th><th scope="col">亮灯</th><th scope="col">承诺期限</th><th scope="col">违规</th></tr>
            </thead>
            <tbody>
              {page.items.map((c) => (
                <tr key={c.supervisionCode} data-code={c.supervisionCode}>
                  <td><a class="code" href={hrefOf(`/case/${c.supervisionCode}`)}>{c.supervisionCode}</a></td>
                  <td>{c.department.name}{c.department.hall && <div class="muted">{c.department.hall.name}</div>}</td>
                  <td>{c.item.name}</td>
                  <td>{statusLabel(c.status)}{c.paused && <span class="tag">暂停</span>}</td>
                  <td><LightBadge light={c.light} /></td>
                  <td><Time iso={c.deadline} /></td>
                  <td>{c.violations ? <span class="tag tag-red">{c.violations}</span> : '0'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.items.length === 0 && <Note>没有符合条件的办件。</Note>}
          <nav class="pager" aria-label="翻页">
            <button type="button" disabled={!back.length} onClick={() => go({ ...filters, cursor: fromBack(back[back.length - 1]), back: back.slice(0, -1).join(',') || undefined })}>上一页</button>
            <button type="button" disabled={!page.nextCursor} onClick={() => go({ ...filters, cursor: page.nextCursor!, back: [...back, cursor || FIRST].join(',') })}>下一页</button>
          </nav>
        </>
      )}
    </section>
  );
}

/** The filters in words: 车辆管理所 · 红灯, or 全部办件. */
function describeFilters(me: Me, f: Filters): string {
  const department = me.visibleDepartments.find((d) => d.code === f.department);
  const parts = [
    department?.name,
    department?.halls.find((h) => h.code === f.hall)?.name,
    f.light ? LIGHT_LABELS[f.light as keyof typeof LIGHT_LABELS] : '',
    f.status ? statusLabel(f.status) : '',
    me.visibleDepartments.flatMap((d) => d.items).find((i) => i.code === f.item)?.name,
  ].filter(Boolean);
  return parts.length ? parts.join(' · ') : '全部办件';
}

function CaseFilters({ me, value, onApply }: { me: Me; value: Filters; onApply: (f: Filters) => void }) {
  const [f, setF] = useState<Filters>(value);
  useEffect(() => setF(value), [value.department, value.hall, value.light, value.status, value.item]);
  const departments = me.visibleDepartments;
  const department = departments.find((d) => d.code === f.department);
  const items = useMemo(() => (department ? department.items : departments.flatMap((d) => d.items)), [department, departments]);
  const set = (k: keyof Filters) => (e: Event) => {
    const v = (e.currentTarget as HTMLSelectElement).value;
    // A hall or an item belongs to its department: choosing another department clears them.
    setF(k === 'department' ? { ...f, department: v, hall: '', item: '' } : { ...f, [k]: v });
  };
  return (
    <form class="filters" onSubmit={(e) => { e.preventDefault(); onApply(f); }} aria-label="筛选办件">
      <label>部门
        <select id="filter-department" value={f.department} onChange={set('department')}>
          <option value="">全部部门</option>
          {departments.map((d) => <option key={d.code} value={d.code}>{d.name}</option>)}
        </select>
      </label>
      <label>分大厅
        <select id="filter-hall" value={f.hall} onChange={set('hall')} disabled={!department?.halls.length}>
          <option value="">{department?.halls.length ? '全部大厅' : '（无分大厅）'}</option>
          {department?.halls.map((h) => <option key={h.code} value={h.code}>{h.name}</option>)}
        </select>
      </label>
      <label>亮灯
        <select id="filter-light" value={f.light} onChange={set('light')}>
          <option value="">全部</option>
          {(Object.keys(LIGHT_LABELS) as (keyof typeof LIGHT_LABELS)[]).map((l) => <option key={l} value={l}>{LIGHT_LABELS[l]}</option>)}
        </select>
      </label>
      <label>状态
        <select id="filter-status" value={f.status} onChange={set('status')}>
          <option value="">全部</option>
          {Object.entries(STATUS_LABELS).map(([s, label]) => <option key={s} value={s}>{label}</option>)}
        </select>
      </label>
      <label>事项
        <select id="filter-item" value={f.item} onChange={set('item')}>
          <option value="">全部事项</option>
          {items.map((i) => <option key={i.code} value={i.code}>{i.name}</option>)}
        </select>
      </label>
      <div class="actions">
        <button type="submit" class="primary">查询</button>
        <button type="button" onClick={() => onApply({})}>重置</button>
      </div>
    </form>
  );
}

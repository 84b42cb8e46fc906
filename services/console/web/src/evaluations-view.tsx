// 评价与回访: the applicants' evaluations and the departments' follow-ups (GET
// /api/v1/evaluations?department=&followUp=). Where the hub has no evaluations yet (the route
// answers 404, or 503 while its service is away) the view is empty and says so.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, describeError } from './api';
import { navigate } from './router';
import type { Me, Page } from './types';
import { Loading, Note, Time } from './widgets';

/** An evaluation as the list shows it (comment and note masked by the hub); the fields the console does not know are left out. */
interface Evaluation {
  id: string;
  supervisionCode: string;
  department: { code: string; name: string; hall?: { code: string; name: string } };
  item?: { code: string; name: string };
  rating: number;
  ratingLabel?: string;
  comment: string | null;
  submittedAt: string;
  followUp: null | { dueAt: string; late?: boolean; closedAt?: string | null; note?: string | null };
}

/** A follow-up's state, as the filter names them: open, late (open past its due time) or done. */
function followUpState(f: Evaluation['followUp']): 'open' | 'late' | 'done' | null {
  if (!f) return null;
  if (f.closedAt) return 'done';
  return f.late ? 'late' : 'open';
}

const FOLLOW_UP_LABELS: Record<string, string> = { open: '待回访', late: '回访逾期', done: '已回访' };

export function EvaluationsView({ me, params }: { me: Me; params: Record<string, string> }) {
  const department = params.department ?? '';
  const followUp = params.followUp ?? '';
  const [items, setItems] = useState<Evaluation[] | null>(null);
  const [absent, setAbsent] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    setItems(null);
    setAbsent('');
    setError('');
    api<Page<Evaluation>>('/evaluations', { department, followUp }, abort.signal).then((p) => setItems(p.items), (err) => {
      if (err instanceof ApiError && (err.status === 404 || err.status === 503)) {
        setItems([]);
        setAbsent(err.status === 404 ? '此枢纽尚未提供评价数据（评价接口未启用）。' : '评价服务暂时不可用，请稍后再试。');
      } else setError(describeError(err));
    });
    return () => abort.abort();
  }, [department, followUp]);

  return (
    <section aria-labelledby="evaluations-title">
      <h1 id="evaluations-title" tabIndex={-1}>评价与回访</h1>
      <form class="filters" aria-label="筛选评价" onSubmit={(e) => {
        e.preventDefault();
        const data = new FormData(e.currentTarget);
        navigate('/evaluations', { department: String(data.get('department') ?? ''), followUp: String(data.get('followUp') ?? '') });
      }}>
        <label>部门
          <select name="department" value={department}>
            <option value="">{me.departments ? '本部门全部' : '全部部门'}</option>
            {me.visibleDepartments.map((d) => <option key={d.code} value={d.code}>{d.name}</option>)}
          </select>
        </label>
        <label>回访
          <select name="followUp" value={followUp}>
            <option value="">全部</option>
            {Object.entries(FOLLOW_UP_LABELS).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
          </select>
        </label>
        <div class="actions"><button type="submit" class="primary">查询</button></div>
      </form>
      {error && <Note kind="error">{error}</Note>}
      {absent && <Note>{absent}</Note>}
      {!items ? (!error && <Loading />) : items.length > 0 ? (
        <table id="evaluations-table">
          <thead><tr><th scope="col">时间</th><th scope="col">监管码</th><th scope="col">部门</th><th scope="col">评分</th><th scope="col">评价</th><th scope="col">回访</th></tr></thead>
          <tbody>{items.map((e) => {
            const f = e.followUp;
            const state = followUpState(f);
            return (
              <tr key={e.id}>
                <td><Time iso={e.submittedAt} /></td>
                <td><span class="code">{e.supervisionCode}</span>{e.item && <div class="muted">{e.item.name}</div>}</td>
                <td>{e.department.name}{e.department.hall && <div class="muted">{e.department.hall.name}</div>}</td>
                <td><span aria-hidden="true">{'★'.repeat(e.rating)}{'☆'.repeat(Math.max(0, 5 - e.rating))}</span><span class="sr-only">{e.rating} 分</span>{e.ratingLabel && <div class="muted">{e.ratingLabel}</div>}</td>
                <td>{e.comment ?? ''}</td>
                <td>{state ? FOLLOW_UP_LABELS[state] : '无需回访'}{f && !f.closedAt && <> · 期限 <Time iso={f.dueAt} /></>}{f?.note && <div class="muted">{f.note}</div>}</td>
              </tr>
            );
          })}</tbody>
        </table>
      ) : !absent && <Note>没有符合条件的评价。</Note>}
    </section>
  );
}

// 办件详情: one case's deadline, pauses, violations, references and timeline (GET
// /api/v1/cases/{code}). The applicant's ID number and mobile come masked from the hub unless the
// token has the personal data grant; the console shows what it is given and says which it is.
import { useEffect, useRef, useState } from 'preact/hooks';
import { statusLabel, VIOLATION_LABELS } from '../../labels';
import { api, describeError } from './api';
import { hrefOf, lastListHref } from './router';
import type { CaseView, Me } from './types';
import { LightBadge, Loading, Note, Time } from './widgets';

const PAUSES: Record<string, { ends: string; label: string }> = {
  SUPPLEMENT_REQUESTED: { ends: 'SUPPLEMENTED', label: '补正' },
  SUSPENDED: { ends: 'RESUMED', label: '中止' },
};

/** The pauses of a timeline (补正, 中止): from the request to the resumption, or still open. */
export function pausesOf(timeline: CaseView['timeline']): { kind: string; from: string; to: string | null }[] {
  const out: { kind: string; from: string; to: string | null }[] = [];
  let open: { kind: string; from: string; ends: string } | null = null;
  for (const e of timeline) {
    if (!open && PAUSES[e.status]) open = { kind: PAUSES[e.status].label, from: e.time, ends: PAUSES[e.status].ends };
    else if (open && e.status === open.ends) {
      out.push({ kind: open.kind, from: open.from, to: e.time });
      open = null;
    }
  }
  if (open) out.push({ kind: open.kind, from: open.from, to: null });
  return out;
}

const SYSTEM_LABELS: Record<string, string> = { 'vehicle-office': '车管所业务系统', 'tax-bureau': '税务业务系统', 'market-regulation': '市场监管业务系统' };

export function CaseDetail({ me, code }: { me: Me; code: string }) {
  const [view, setView] = useState<CaseView | null>(null);
  const [error, setError] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    const abort = new AbortController();
    setView(null);
    setError('');
    api<CaseView>(`/cases/${encodeURIComponent(code)}`, {}, abort.signal).then(setView, (err) => setError(describeError(err)));
    return () => abort.abort();
  }, [code]);
  // Keyboard and screen-reader users land on the case, not at the top of the page.
  useEffect(() => { if (view) heading.current?.focus(); }, [view]);

  if (error) return <section><h1>办件 {code}</h1><Note kind="error">{error}</Note><p><a href={hrefOf('/cases')}>返回办件列表</a></p></section>;
  if (!view) return <Loading />;
  const pauses = pausesOf(view.timeline);
  const violating = new Map(view.violations.map((v) => [v.eventId, v]));
  return (
    <section aria-labelledby="case-title" class="case">
      <p><a href={lastListHref()}>← 返回办件列表</a></p>
      <h1 id="case-title" ref={heading} tabIndex={-1}>办件 <span class="code">{view.supervisionCode}</span> <LightBadge light={view.light} /></h1>
      <dl class="facts">
        <dt>当前状态</dt><dd id="case-status">{statusLabel(view.status)}{view.paused && <span class="tag">暂停中</span>}</dd>
        <dt>办理部门</dt><dd>{view.department.name}{view.department.hall && `（${view.department.hall.name}）`}</dd>
        <dt>办理事项</dt><dd>{view.item.name} <span class="muted">{view.item.code}</span></dd>
        <dt>承诺办结期限</dt><dd id="case-deadline">{view.deadline ? <><Time iso={view.deadline} />{view.paused && <span class="muted">（暂停中：按今日恢复计算）</span>}</> : <span class="muted">无（未受理，受理后计算）</span>}</dd>
        <dt>申请人</dt>
        <dd id="case-applicant">
          {view.applicant.name}（{view.applicant.kind === 'ORGANISATION' ? '单位' : '个人'}） 证件号 <span class="code">{view.applicant.idNumber}</span>
          {view.applicant.mobile && <> 手机 <span class="code">{view.applicant.mobile}</span></>}
          <div class="muted">{me.personalData ? '此令牌可查看个人信息：证件号与手机号为完整信息，查看已记入访问日志。' : '证件号与手机号已脱敏。'}</div>
        </dd>
        <dt>公众查询页</dt><dd><a href={`/status/${encodeURIComponent(view.supervisionCode)}`} target="_blank" rel="noopener noreferrer">/status/{view.supervisionCode}</a></dd>
      </dl>

      <h2>违规记录</h2>
      {view.violations.length ? (
        <ul class="violations" id="case-violations">
          {view.violations.map((v) => <li key={v.code + v.eventId}><span class="tag tag-red">{VIOLATION_LABELS[v.code] ?? v.code}</span> {v.reason}</li>)}
        </ul>
      ) : <p class="muted">无</p>}

      <h2>暂停（补正、中止）</h2>
      {pauses.length ? (
        <ul id="case-pauses">{pauses.map((p) => <li key={p.from}>{p.kind}：<Time iso={p.from} /> 至 {p.to ? <Time iso={p.to} /> : '尚未恢复'}</li>)}</ul>
      ) : <p class="muted">无</p>}

      <h2>关联业务编号</h2>
      <ul id="case-references">{view.references.map((r) => <li key={r.system + r.localId}>{SYSTEM_LABELS[r.system] ?? r.system}：<span class="code">{r.localId}</span></li>)}</ul>

      <h2>办理过程</h2>
      <table id="case-timeline">
        <caption>按办理时间排序（北京时间）</caption>
        <thead><tr><th scope="col">时间</th><th scope="col">状态</th><th scope="col">来源系统</th><th scope="col">部门原始状态</th><th scope="col">备注</th></tr></thead>
        <tbody>
          {view.timeline.map((e) => {
            const v = violating.get(e.eventId);
            return (
              <tr key={e.eventId} class={v ? 'violating' : ''}>
                <td><Time iso={e.time} /></td>
                <td>{statusLabel(e.status)}{v && <span class="tag tag-red">{VIOLATION_LABELS[v.code] ?? v.code}</span>}</td>
                <td>{SYSTEM_LABELS[e.system] ?? e.system}</td>
                <td><span class="code">{e.sourceCode}</span>{e.sourceLabel && ` ${e.sourceLabel}`}</td>
                <td>{e.remark ?? ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

// 统计: per department and hall (GET /api/v1/stats/departments), a chart of lights per department,
// and the on-time rate week by week: the same route asked once per week (from/to), since the
// counters are kept per day and a week's sum is as cheap as the whole range's.
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ChartConfiguration } from 'chart.js';
import { LIGHT_LABELS } from '../../labels';
import { api, describeError } from './api';
import type { ChartCanvas } from './charts';
import { navigate } from './router';
import type { StatsEntry } from './types';
import { Loading, Note, beijingDate, percent } from './widgets';

const WEEKS = 8;
const LIGHT_COLOURS = { GREEN: '#2e8b57', YELLOW: '#e0a800', RED: '#c62828' } as const;
const SERIES_COLOURS = ['#2f6fb0', '#c2185b', '#00897b', '#6d4c41', '#5e35b1', '#ef6c00', '#455a64'];
const seriesColour = (i: number) => SERIES_COLOURS[i % SERIES_COLOURS.length];

interface Week { from: string; to: string; label: string; departments: StatsEntry[] }

/** The last `n` weeks, Monday to Sunday in Beijing, oldest first; the last one is this week. */
export function lastWeeks(n: number, now = Date.now()): { from: string; to: string }[] {
  const today = new Date(`${beijingDate(0, now)}T00:00:00Z`);
  const monday = today.getTime() - ((today.getUTCDay() + 6) % 7) * 86_400_000;
  return Array.from({ length: n }, (_, i) => {
    const start = monday - (n - 1 - i) * 7 * 86_400_000;
    return { from: new Date(start).toISOString().slice(0, 10), to: new Date(start + 6 * 86_400_000).toISOString().slice(0, 10) };
  });
}

export function StatsView({ params }: { params: Record<string, string> }) {
  const [from, to] = [params.from ?? '', params.to ?? ''];
  const [departments, setDepartments] = useState<StatsEntry[] | null>(null);
  const [weeks, setWeeks] = useState<Week[] | null>(null);
  const [error, setError] = useState('');
  const [Chart, setChart] = useState<typeof ChartCanvas | null>(null);
  useEffect(() => { void import('./charts').then((m) => setChart(() => m.ChartCanvas), (err) => setError(describeError(err))); }, []);

  useEffect(() => {
    const abort = new AbortController();
    setDepartments(null);
    setError('');
    api<{ departments: StatsEntry[] }>('/stats/departments', { from, to }, abort.signal).then((s) => setDepartments(s.departments), (err) => setError(describeError(err)));
    return () => abort.abort();
  }, [from, to]);

  useEffect(() => {
    const abort = new AbortController();
    Promise.all(lastWeeks(WEEKS).map(async (w) => ({
      ...w, label: w.from.slice(5), departments: (await api<{ departments: StatsEntry[] }>('/stats/departments', w, abort.signal)).departments,
    }))).then(setWeeks, (err) => setError(describeError(err)));
    return () => abort.abort();
  }, []);

  const lightsChart = useMemo<ChartConfiguration | null>(() => departments && {
    type: 'bar',
    data: {
      labels: departments.map((d) => d.name),
      datasets: (['GREEN', 'YELLOW', 'RED'] as const).map((l) => ({ label: LIGHT_LABELS[l], data: departments.map((d) => d.lights[l]), backgroundColor: LIGHT_COLOURS[l] })),
    },
    options: { indexAxis: 'y', scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } }, plugins: { legend: { position: 'bottom' } } },
  }, [departments]);

  // Every department any of the weeks has, in the order they first appear.
  const weekDepartments = useMemo(() => {
    const names = new Map<string, string>();
    for (const w of weeks ?? []) for (const d of w.departments) names.set(d.code, d.name);
    return [...names].map(([code, name]) => ({ code, name }));
  }, [weeks]);
  const onTimeChart = useMemo<ChartConfiguration | null>(() => {
    if (!weeks) return null;
    return {
      type: 'line',
      data: {
        labels: weeks.map((w) => `${w.label} 起`),
        datasets: weekDepartments.map(({ code, name }, i) => ({
          label: name,
          data: weeks.map((w) => { const r = w.departments.find((d) => d.code === code)?.onTimeRate; return r === null || r === undefined ? null : Math.round(r * 1000) / 10; }),
          borderColor: seriesColour(i), backgroundColor: seriesColour(i), spanGaps: true,
        })),
      },
      options: { scales: { y: { min: 0, max: 100, title: { display: true, text: '按时办结率 %' } } }, plugins: { legend: { position: 'bottom' } } },
    };
  }, [weeks, weekDepartments]);

  return (
    <section aria-labelledby="stats-title">
      <h1 id="stats-title" tabIndex={-1}>部门统计</h1>
      <form class="filters" aria-label="统计日期范围" onSubmit={(e) => {
        e.preventDefault();
        const data = new FormData(e.currentTarget);
        navigate('/stats', { from: String(data.get('from') ?? ''), to: String(data.get('to') ?? '') });
      }}>
        <label>受理日期从 <input type="date" name="from" value={from} /></label>
        <label>至 <input type="date" name="to" value={to} /></label>
        <div class="actions"><button type="submit" class="primary">统计</button><button type="button" onClick={() => navigate('/stats')}>全部日期</button></div>
      </form>
      {error && <Note kind="error">{error}</Note>}
      {!departments ? (!error && <Loading />) : (
        <>
          <table id="stats-table">
            <caption>{from || to ? `受理日期 ${from || '最早'} 至 ${to || '今天'}` : '全部日期'}（分大厅计入所属部门）</caption>
            <thead>
              <tr><th scope="col">部门 / 分大厅</th><th scope="col">收件</th><th scope="col">在办</th><th scope="col">办结</th><th scope="col">按时办结率</th><th scope="col">平均用时（工作日）</th><th scope="col">绿灯</th><th scope="col">黄灯</th><th scope="col">红灯</th><th scope="col">违规</th></tr>
            </thead>
            <tbody>
              {departments.flatMap((d) => [d, ...(d.halls ?? [])].map((r, i) => (
                <tr key={r.code} class={i ? 'hall' : 'department'}>
                  <th scope="row">{i ? `└ ${r.name}` : r.name}</th>
                  <td>{r.received}</td><td>{r.inProgress}</td><td>{r.completed}</td><td>{percent(r.onTimeRate)}</td><td>{r.avgWorkingDays ?? '—'}</td>
                  <td>{r.lights.GREEN}</td><td>{r.lights.YELLOW}</td><td>{r.lights.RED}</td><td>{r.violations}</td>
                </tr>
              )))}
            </tbody>
          </table>
          {departments.length === 0 && <Note>此范围内没有办件。</Note>}
          <h2 id="lights-chart-title">各部门亮灯情况</h2>
          {lightsChart && Chart && <Chart id="lights-chart" config={lightsChart} label={`各部门亮灯：${departments.map((d) => `${d.name} 绿灯 ${d.lights.GREEN}、黄灯 ${d.lights.YELLOW}、红灯 ${d.lights.RED}`).join('；')}`} />}
        </>
      )}
      <h2>按时办结率（近 {WEEKS} 周，按受理周）</h2>
      {!weeks || !Chart ? (!error && <Loading />) : onTimeChart && (
        <>
          <Chart id="on-time-chart" config={onTimeChart} label="各部门近几周的按时办结率，数据见下表" />
          <details>
            <summary>查看数据表</summary>
            <table>
              <thead><tr><th scope="col">受理周</th>{weekDepartments.map((d) => <th scope="col" key={d.code}>{d.name}</th>)}</tr></thead>
              <tbody>{weeks.map((w) => (
                <tr key={w.from}><th scope="row">{w.from} 至 {w.to}</th>{weekDepartments.map((d) => <td key={d.code}>{percent(w.departments.find((x) => x.code === d.code)?.onTimeRate)}</td>)}</tr>
              ))}</tbody>
            </table>
          </details>
        </>
      )}
    </section>
  );
}

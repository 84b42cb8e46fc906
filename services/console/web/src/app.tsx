// The console: sign-in with a token, then the views of the token's roles (asked of GET
// /api/v1/me). Supervisors: cases, statistics, live alerts, evaluations; departments: their
// evaluations and follow-ups; operators: dead letters and files. The hub checks every call; what
// is shown here only follows what it allows.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { LIGHT_LABELS } from '../../labels';
import { api, describeError, forgetToken, keepToken, storedToken, whenUnauthorized } from './api';
import { openAlertStream, type StreamState } from './alert-stream';
import { AlertsView } from './alerts-view';
import { CaseDetail } from './case-view';
import { CasesView } from './cases-view';
import { EvaluationsView } from './evaluations-view';
import { DeadLettersView, FilesView } from './operator-view';
import { hrefOf, navigate, useRoute } from './router';
import { StatsView } from './stats-view';
import type { Alert, Me } from './types';
import { Loading, Note, ROLE_LABELS } from './widgets';

interface View { path: string; label: string; role: string }
const VIEWS: View[] = [
  { path: '/cases', label: '办件', role: 'supervisor' },
  { path: '/stats', label: '统计', role: 'supervisor' },
  { path: '/alerts', label: '预警', role: 'supervisor' },
  { path: '/evaluations', label: '评价与回访', role: 'supervisor' },
  { path: '/evaluations', label: '评价与回访', role: 'department' },
  { path: '/dead-letters', label: '死信', role: 'operator' },
  { path: '/files', label: '文件交换', role: 'operator' },
];

export function viewsOf(me: Me): View[] {
  const seen = new Set<string>();
  return VIEWS.filter((v) => me.roles.includes(v.role) && !seen.has(v.path) && seen.add(v.path));
}

/** Live alerts kept in the page, newest first: enough for a shift, not the whole history. */
const LIVE_KEPT = 500;

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => storedToken() !== null);
  const [signInError, setSignInError] = useState('');

  const signOut = useCallback((why = '') => {
    forgetToken();
    setMe(null);
    setSignInError(why);
  }, []);
  useEffect(() => whenUnauthorized(() => signOut('令牌无效或已失效，请重新登录。')), [signOut]);

  const check = useCallback(async () => {
    setChecking(true);
    try {
      setMe(await api<Me>('/me'));
      setSignInError('');
    } catch (err) {
      forgetToken();
      setSignInError(describeError(err));
    } finally {
      setChecking(false);
    }
  }, []);
  useEffect(() => { if (storedToken()) void check(); }, []);

  if (checking) return <Loading />;
  if (!me) return <SignIn error={signInError} onToken={(t) => { keepToken(t); void check(); }} />;
  return <Signed me={me} onSignOut={() => signOut()} />;
}

function SignIn({ error, onToken }: { error: string; onToken: (token: string) => void }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <main id="main" class="sign-in">
      <h1>电子监察控制台</h1>
      <form onSubmit={(e) => {
        e.preventDefault();
        const token = input.current?.value.trim() ?? '';
        if (token) onToken(token);
      }}>
        <label for="token">访问令牌</label>
        <p class="muted" id="token-help">请输入监察、部门或运维令牌。令牌只保存在本标签页中，关闭即清除。</p>
        <input id="token" ref={input} type="password" autocomplete="off" spellcheck={false} aria-describedby="token-help" required />
        <button type="submit" class="primary">登录</button>
      </form>
      {error && <Note kind="error">{error}</Note>}
    </main>
  );
}

function Signed({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const route = useRoute();
  const views = viewsOf(me);
  const [live, setLive] = useState<Alert[]>([]);
  const [unseen, setUnseen] = useState(0);
  const [streamState, setStreamState] = useState<StreamState>('closed');
  const [announcement, setAnnouncement] = useState('');
  const main = useRef<HTMLElement>(null);

  // A supervisor's console keeps the alert stream open whatever view is shown.
  useEffect(() => {
    const token = storedToken();
    if (!token || !me.roles.includes('supervisor')) return;
    return openAlertStream(token, (a) => {
      setLive((l) => [a, ...l].slice(0, LIVE_KEPT));
      // Counted as new only while the alerts are not on the screen.
      if (!location.hash.startsWith('#/alerts')) setUnseen((n) => n + 1);
      setAnnouncement(`新预警：${a.department.name} ${a.supervisionCode} ${a.violation ? a.violation.reason : `${LIGHT_LABELS[a.level]}`}`);
    }, setStreamState);
  }, [me]);

  const current = route.path;
  useEffect(() => {
    if (current === '/alerts') setUnseen(0);
    // A new view is announced by moving focus to its heading.
    requestAnimationFrame(() => main.current?.querySelector<HTMLElement>('h1')?.focus());
  }, [current]);
  useEffect(() => {
    if ((current === '/' || !current) && views.length) navigate(views[0].path);
  }, [current]);

  let body;
  const codeMatch = /^\/case\/([^/]+)$/.exec(current);
  const allowed = (path: string) => views.some((v) => v.path === path);
  if (!views.length) body = <Note>此令牌（{me.roles.map((r) => ROLE_LABELS[r] ?? r).join('、')}）在控制台中没有可查看的内容。</Note>;
  else if (codeMatch && allowed('/cases')) body = <CaseDetail me={me} code={decodeURIComponent(codeMatch[1])} />;
  else if (current === '/cases' && allowed('/cases')) body = <CasesView me={me} params={route.params} />;
  else if (current === '/stats' && allowed('/stats')) body = <StatsView params={route.params} />;
  else if (current === '/alerts' && allowed('/alerts')) body = <AlertsView live={live} state={streamState} />;
  else if (current === '/evaluations' && allowed('/evaluations')) body = <EvaluationsView me={me} params={route.params} />;
  else if (current === '/dead-letters' && allowed('/dead-letters')) body = <DeadLettersView />;
  else if (current === '/files' && allowed('/files')) body = <FilesView />;
  else body = <Note>此令牌无权查看这个页面。<a href={hrefOf(views[0].path)}>返回{views[0].label}</a></Note>;

  const scope = me.departments ? me.visibleDepartments.map((d) => d.short ?? d.name).join('、') : '全部部门';
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>跳到主要内容</a>
      <header class="top">
        <span class="brand">电子监察控制台</span>
        <nav aria-label="主导航">
          <ul>
            {views.map((v) => (
              <li key={v.path}>
                <a href={hrefOf(v.path)} aria-current={current === v.path || (v.path === '/cases' && current.startsWith('/case/')) ? 'page' : undefined}>
                  {v.label}{v.path === '/alerts' && unseen > 0 && <span class="badge" aria-label={`${unseen} 条新预警`}>{unseen}</span>}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who" id="who">
          <span>{me.name}</span>
          <span class="muted">（{me.roles.map((r) => ROLE_LABELS[r] ?? r).join('、')} · {scope} · {me.personalData ? '可查看个人信息' : '个人信息脱敏'}）</span>
          <button type="button" onClick={onSignOut}>退出</button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>{body}</main>
      <div class="sr-only" role="status" aria-live="polite" id="announcer">{announcement}</div>
    </>
  );
}

// The public status page, /status/{code} (办事群众随时查询): server-rendered HTML from the public
// case view, so that it works on any telephone's browser with no script, and so that nothing but
// what the public view holds can reach it. Styles are inline: the page needs no other request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { beijingTime, statusLabel } from './labels';
import { escapeHtml, htmlDocument } from './html';

/** The public case view (cases.public): no applicant, no officer, no remark. */
export interface PublicCase {
  supervisionCode: string;
  department: { code: string; name: string };
  item: { code: string; name: string };
  status: string;
  deadline?: string | null;
  paused?: boolean;
  timeline: { status: string; time: string }[];
}

const HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  // A case's status changes: never a stale copy.
  'Cache-Control': 'no-store',
  // No script, no other origin: the page is its own HTML and inline styles.
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};


const STYLE = `
body{font-family:system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;background:#f4f6f8;color:#1d2733;line-height:1.6}
main{max-width:40rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.4rem;margin:0 0 1rem}
section{background:#fff;border-radius:8px;padding:1rem 1.25rem;margin-bottom:1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem;margin:0}
dt{color:#5a6776}dd{margin:0;font-weight:600}
ol{list-style:none;padding:0;margin:0}
li{padding:.4rem 0 .4rem 1rem;border-left:3px solid #2f6fb0;margin-left:.3rem}
time{color:#5a6776;margin-right:.75rem;font-variant-numeric:tabular-nums}
.code{font-family:ui-monospace,monospace;word-break:break-all}
form{display:flex;gap:.5rem;flex-wrap:wrap}
input{flex:1;min-width:14rem;font:inherit;padding:.4rem .6rem;border:1px solid #8a96a3;border-radius:4px}
button{font:inherit;padding:.4rem 1rem;border:0;border-radius:4px;background:#2f6fb0;color:#fff;cursor:pointer}
:focus-visible{outline:3px solid #f0a000;outline-offset:2px}
.note{color:#5a6776;font-size:.9rem}`;

function page(title: string, body: string): string {
  return htmlDocument({ title, style: STYLE, head: ['<meta name="robots" content="noindex">', '<link rel="icon" href="data:,">'], body: `${body}\n${lookupForm()}` });
}

function lookupForm(code = ''): string {
  return `<section aria-labelledby="lookup">
<h2 id="lookup" style="font-size:1.1rem;margin:0 0 .5rem">查询办件进度</h2>
<form method="get" action="/status">
<label for="code" class="note" style="width:100%">请输入统一服务监管码（24 位，见受理回执）</label>
<input id="code" name="code" value="${escapeHtml(code)}" maxlength="40" autocomplete="off" spellcheck="false" required>
<button type="submit">查询</button>
</form>
</section>`;
}

/** The page of one case: status, item, department, deadline and the statuses of its timeline. */
export function renderStatusPage(view: PublicCase): string {
  const timeline = view.timeline.map((e) => `<li><time datetime="${escapeHtml(e.time)}">${escapeHtml(beijingTime(e.time))}</time>${escapeHtml(statusLabel(e.status))}</li>`).join('\n');
  const deadline = view.deadline
    ? `${escapeHtml(beijingTime(view.deadline))}${view.paused ? '（办理暂停中，期限顺延）' : ''}`
    : '受理后计算';
  return page(`办件进度 · ${statusLabel(view.status)}`, `<h1>办件进度查询</h1>
<section aria-labelledby="summary">
<h2 id="summary" style="font-size:1.1rem;margin:0 0 .5rem">当前状态：<span id="status">${escapeHtml(statusLabel(view.status))}</span></h2>
<dl>
<dt>监管码</dt><dd class="code">${escapeHtml(view.supervisionCode)}</dd>
<dt>办理事项</dt><dd id="item">${escapeHtml(view.item.name)}</dd>
<dt>办理部门</dt><dd id="department">${escapeHtml(view.department.name)}</dd>
<dt>承诺办结期限</dt><dd id="deadline">${deadline}</dd>
</dl>
</section>
<section aria-labelledby="steps">
<h2 id="steps" style="font-size:1.1rem;margin:0 0 .5rem">办理过程</h2>
<ol id="timeline">
${timeline}
</ol>
<p class="note">时间为北京时间。本页不显示申请人信息。</p>
</section>`);
}

/** The friendly page of a code that names no case (or one not well formed). */
export function renderNoCasePage(code: string, malformed: boolean): string {
  const why = malformed
    ? '您输入的监管码格式不正确：统一服务监管码共 24 位，由数字和大写字母组成，请对照受理回执核对。'
    : '没有找到这个监管码的办件。请核对受理回执上的统一服务监管码；刚提交的办件可能需要几分钟才能查到。';
  return page('未找到办件', `<h1>未找到办件</h1>
<section>
<p>${why}</p>
${code ? `<p class="note">您查询的是：<span class="code">${escapeHtml(code.slice(0, 40))}</span></p>` : ''}
<p class="note">如有疑问，请致电 12345 政务服务便民热线。</p>
</section>`);
}

/** The page of /status with no code: the form alone. */
export function renderLookupPage(): string {
  return page('办件进度查询', '<h1>办件进度查询</h1>');
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  if (res.headersSent) return;
  res.writeHead(status, HEADERS);
  res.end(html);
}

/** `GET /status?code=…` (the form) goes to the case's own address, which can be kept and shared. */
export function lookupRedirect(req: IncomingMessage, res: ServerResponse): boolean {
  const code = new URL(req.url ?? '/', 'http://hub').searchParams.get('code')?.trim().toUpperCase();
  if (!code) return false;
  res.writeHead(303, { Location: `/status/${encodeURIComponent(code.slice(0, 40))}`, 'Cache-Control': 'no-store' });
  res.end();
  return true;
}

/** Errors by which moleculer says no node runs the cases service now. */
const UNAVAILABLE = new Set(['ServiceUnavailableError', 'ServiceNotFoundError', 'ServiceNotAvailableError']);

/**
 * `GET /status/{code}`: the case's page from the public view (through the cases service, wherever it
 * runs); a friendly page with 404 for an unknown code and 400 for a malformed one, 503 while no node
 * runs the cases service.
 */
export async function serveStatusPage(call: (code: string) => Promise<PublicCase>, code: string, res: ServerResponse, logger: { warn(o: object, m: string): void; error(o: object, m: string): void }): Promise<void> {
  try {
    sendHtml(res, 200, renderStatusPage(await call(code)));
  } catch (err) {
    const e = err as { code?: number; name?: string; message?: string };
    if (e.code === 404 || e.code === 400) return sendHtml(res, e.code, renderNoCasePage(code, e.code === 400));
    const unavailable = UNAVAILABLE.has(e.name ?? '');
    if (unavailable) logger.warn({ err: e.message }, 'status page: no node runs the cases service now');
    else logger.error({ err: e.message }, 'status page failed');
    sendHtml(res, unavailable ? 503 : 500, page('暂时无法查询', `<h1>暂时无法查询</h1>
<section><p>查询服务暂时不可用，请稍后再试。</p></section>`));
  }
}

import { createHash } from 'node:crypto';
import type { CaseFacts, EvaluationRow } from './evaluation-store';
import { RATING_LABELS } from './evaluations';
import { escapeHtml, htmlDocument } from '../console/html';
import { statusLabel } from '../console/labels';

// The public page of an evaluation link (GET /e/{token}): one self-contained HTML document, no
// external assets (the link is opened from an SMS on any phone, and nothing should learn the token
// from a request for a stylesheet), usable by keyboard (native radios in a fieldset, labels, a
// button), and working without script (the form posts to /e/{token}); with script it posts JSON
// to the public API and shows the answer in place.


/** Longest comment the page and the API take. */
export const COMMENT_MAX = 500;

// Posts the form as JSON and reloads the page, which then shows the evaluation; a refusal is read
// out in the status line (role=status). Its hash is allowed by the page's Content-Security-Policy.
const SCRIPT = `(function () {
  var form = document.getElementById('evaluation');
  if (!form || !window.fetch) return;
  var status = document.getElementById('status');
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var checked = form.querySelector('input[name="rating"]:checked');
    if (!checked) { status.textContent = '请选择一项评价。'; form.querySelector('input[name="rating"]').focus(); return; }
    var button = form.querySelector('button');
    button.disabled = true;
    status.textContent = '正在提交…';
    var body = { rating: Number(checked.value) };
    if (form.comment.value.trim()) body.comment = form.comment.value;
    fetch(form.getAttribute('data-api'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) {
        if (r.ok) { location.replace(location.href); return; }
        return r.json().catch(function () { return {}; }).then(function (p) {
          status.textContent = p.title || '提交失败，请稍后再试。';
          if (r.status !== 404 && r.status !== 409) button.disabled = false;
        });
      }, function () { status.textContent = '网络异常，请稍后再试。'; button.disabled = false; });
  });
})();`;

const SCRIPT_HASH = `sha256-${createHash('sha256').update(SCRIPT, 'utf8').digest('base64')}`;

const STYLE = `body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f6f8;color:#1f2329;line-height:1.6}
main{max-width:36rem;margin:0 auto;padding:1.25rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
dl{background:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem}
dt{color:#5b6270;font-size:.9rem}dd{margin:0 0 .5rem}
fieldset{border:1px solid #c9cdd4;border-radius:.5rem;background:#fff;margin:0 0 1rem;padding:.5rem 1rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.rating label{display:block;padding:.5rem .25rem;font-size:1.05rem;cursor:pointer}
.rating input{width:1.2rem;height:1.2rem;margin-right:.5rem;vertical-align:-.2rem}
label[for=comment]{display:block;font-weight:600;margin-bottom:.25rem}
textarea{box-sizing:border-box;width:100%;min-height:6rem;font:inherit;padding:.5rem;border:1px solid #c9cdd4;border-radius:.5rem}
.hint{color:#5b6270;font-size:.9rem}
button{font:inherit;font-size:1.1rem;padding:.6rem 1.5rem;border:0;border-radius:.5rem;background:#1d5fd6;color:#fff;cursor:pointer}
button[disabled]{background:#8aa5d6}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.error{background:#fdecea;border-left:4px solid #d93026;padding:.5rem 1rem}
.done{background:#fff;border-radius:.5rem;padding:1rem}`;

/** The headers every answer of the page carries: no external anything, the token leaks to no referrer, nothing cached. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; script-src '${SCRIPT_HASH}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

export const PAGE_TYPE = 'text/html; charset=utf-8';

function document(title: string, body: string, script = false): string {
  return htmlDocument({ title, style: STYLE, head: ['<meta name="referrer" content="no-referrer">'], body, after: script ? `<script>${SCRIPT}</script>\n` : '' });
}

/** `2026-09-14 10:05` of an ISO 8601 +08:00 time, as people read it. */
function readable(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

function caseFacts(facts: CaseFacts): string {
  const dept = facts.hall ? `${facts.department.name}（${facts.hall.name}）` : facts.department.name;
  return `<dl>
<dt>办理事项</dt><dd>${escapeHtml(facts.item.name)}</dd>
<dt>办理部门</dt><dd>${escapeHtml(dept)}</dd>
<dt>办件状态</dt><dd>${escapeHtml(statusLabel(facts.status))}</dd>
<dt>统一服务监管码</dt><dd>${escapeHtml(facts.supervisionCode)}</dd>
</dl>`;
}

/**
 * The page of a valid link: the case (item, department, status; no personal data) and the form,
 * or, once the case is evaluated, the evaluation. `error` is read out above the form (a refused
 * answer posted without script), with the values given kept.
 */
export function evaluationPage(token: string, facts: CaseFacts, evaluation: EvaluationRow | null, opts: { error?: string; rating?: number; comment?: string; thanks?: boolean } = {}): string {
  const title = '办件评价';
  if (evaluation) {
    const followUp = evaluation.followUp
      ? `<p>我们已转交办理部门回访，将于 ${escapeHtml(readable(evaluation.followUp.dueAt))} 前办结。</p>`
      : '';
    return document(title, `<h1>${opts.thanks ? '感谢您的评价' : '本办件已评价'}</h1>
${caseFacts(facts)}
<section class="done" aria-labelledby="result">
<h2 id="result">您的评价：${escapeHtml(RATING_LABELS[evaluation.rating])}</h2>
<p>评价时间：${escapeHtml(readable(evaluation.submittedAt))}</p>
${followUp}<p class="hint">每件办件只能评价一次。</p>
</section>`);
  }
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>\n` : '';
  const options = [5, 4, 3, 2, 1].map((r) => `<label><input type="radio" name="rating" value="${r}"${r === 5 ? ' required' : ''}${opts.rating === r ? ' checked' : ''}>${r} 分 · ${RATING_LABELS[r]}</label>`).join('\n');
  return document(title, `<h1>请对本次办理进行评价</h1>
${caseFacts(facts)}
${error}<form id="evaluation" method="post" action="${escapeHtml(token)}" data-api="../api/v1/public/evaluations/${escapeHtml(token)}" accept-charset="utf-8">
<fieldset class="rating">
<legend>您对本次办理是否满意？（必选）</legend>
${options}
</fieldset>
<label for="comment">意见或建议（选填，最多 ${COMMENT_MAX} 字）</label>
<textarea id="comment" name="comment" maxlength="${COMMENT_MAX}" aria-describedby="comment-hint">${escapeHtml(opts.comment ?? '')}</textarea>
<p id="comment-hint" class="hint">请勿填写身份证号、手机号等个人信息。每件办件只能评价一次。</p>
<button type="submit">提交评价</button>
<p id="status" role="status" aria-live="polite"></p>
</form>`, true);
}

/** A page that says why there is nothing to evaluate: an unknown or expired link, a service away. */
export function messagePage(heading: string, text: string): string {
  return document(heading, `<h1>${escapeHtml(heading)}</h1>
<p>${escapeHtml(text)}</p>`);
}

/** The page for an error of status `status` (what the /e/ route answers when the call itself fails). */
export function errorPage(status: number): string {
  if (status === 404) return messagePage('评价链接无效或已过期', '这个评价链接不存在或已超过有效期。如需评价，请联系办理部门。');
  if (status === 503) return messagePage('服务暂不可用', '评价服务暂时不可用，请稍后再打开这个链接。');
  if (status < 500) return messagePage('无法处理您的请求', '请求有误，请重新打开短信中的评价链接。');
  return messagePage('服务出错', '评价服务出错，请稍后再试。');
}

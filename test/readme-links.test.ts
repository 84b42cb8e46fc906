import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../core/kernel/paths';

/** Every Markdown file git tracks or would track (a new README is checked before its first commit). */
function trackedMarkdown(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '*.md'], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\0').filter(Boolean).filter((f) => fs.existsSync(path.join(ROOT, f)));
}

/** The text with fenced and inline code blanked out (a bracket there is not a link), lines kept where they were. */
function prose(text: string): string {
  return withoutFences(text).replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length));
}

function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '));
}

export type Link = { target: string; line: number };

/** Inline links and images `[x](target)`, reference definitions `[x]: target` and HTML `href`/`src`. */
export function linksOf(text: string): Link[] {
  const out: Link[] = [];
  const body = prose(text);
  const lineAt = (i: number) => body.slice(0, i).split('\n').length;
  for (const m of body.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], line: lineAt(m.index!) });
  for (const m of body.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm)) out.push({ target: m[1], line: lineAt(m.index!) });
  for (const m of body.matchAll(/\b(?:href|src)="([^"]+)"/g)) out.push({ target: m[1], line: lineAt(m.index!) });
  // A path written as code that climbs out of the file's folder (`../x/`) is a reference all the same.
  for (const m of withoutFences(text).matchAll(/`(\.\.\/[^`\s]*)`/g)) out.push({ target: m[1], line: lineAt(m.index!) });
  return out.sort((a, b) => a.line - b.line);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped (letters of any script kept), spaces as dashes. */
export function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutFences(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = anchorOf(m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  for (const m of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]);
  return out;
}

/** What is wrong with each relative link of one Markdown file (empty when every one resolves). */
export function brokenLinks(file: string, root = ROOT): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const problems: string[] = [];
  for (const { target, line } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // http:, mailto: …: not in the repository
    const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
    const decoded = decodeURIComponent(rawPath);
    const at = decoded ? (decoded.startsWith('/') ? path.join(root, decoded) : path.resolve(path.dirname(path.join(root, file)), decoded)) : path.join(root, file);
    const where = `${file}:${line}: ${target}`;
    if (!at.startsWith(root + path.sep) && at !== root) { problems.push(`${where} points outside the repository`); continue; }
    if (!fs.existsSync(at)) { problems.push(`${where} does not exist`); continue; }
    if (anchor && at.endsWith('.md') && !anchorsOf(fs.readFileSync(at, 'utf8')).has(decodeURIComponent(anchor).toLowerCase())) {
      problems.push(`${where}: ${path.relative(root, at)} has no heading #${anchor}`);
    }
  }
  return problems;
}

describe('links in the documentation', () => {
  const files = trackedMarkdown();

  it('finds the tracked Markdown files, the READMEs among them', () => {
    assert.ok(files.includes('README.md') && files.includes('adapters/README.md'), files.join(', '));
  });

  it('resolves every relative link and anchor of every tracked Markdown file', () => {
    const problems = files.flatMap((f) => brokenLinks(f));
    assert.deepEqual(problems, []);
  });

  it('reports a link to a missing file, a missing anchor and one outside the repository, and passes over code and web links', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-links-'));
    try {
      fs.mkdirSync(path.join(dir, 'docs'));
      fs.writeFileSync(path.join(dir, 'docs', 'guide.md'), '# Deploying a department\n\n## 部署 步骤\n');
      fs.writeFileSync(path.join(dir, 'README.md'), [
        '# Top',
        'See [the guide](docs/guide.md#deploying-a-department) and [steps](docs/guide.md#部署-步骤), [top](#top).',
        'Broken: [gone](docs/missing.md), [anchor](docs/guide.md#no-such-heading), [out](../../elsewhere/x.md).',
        'Not links: `[x](nowhere.md)`, [web](https://example.com/a.md), [mail](mailto:a@b.c), `docs/as-code.md`; but `../gone/` is.',
        '```', '[fenced](nowhere-either.md)', '```',
        '[ref]: docs/also-missing.md',
      ].join('\n'));
      const problems = brokenLinks('README.md', dir);
      assert.deepEqual(problems, [
        'README.md:3: docs/missing.md does not exist',
        'README.md:3: docs/guide.md#no-such-heading: docs/guide.md has no heading #no-such-heading',
        'README.md:3: ../../elsewhere/x.md points outside the repository',
        'README.md:4: ../gone/ points outside the repository',
        'README.md:8: docs/also-missing.md does not exist',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Which code the inputs reached, from V8's own block coverage (node:inspector, Profiler precise
// coverage in its binary mode: a block ran or it did not). Taken every few hundred inputs, never per
// input: a take lists only the functions that ran since the last one, each with the blocks of it
// that did not run. Kept as a bitmap of covered characters per script, which answers both
// questions the runner asks: did these inputs reach anything new (feedback), and how much of the
// hub's code did the run reach (the report, in lines of the compiled JavaScript).

import fs from 'node:fs';
import inspector from 'node:inspector';
import { fileURLToPath } from 'node:url';

interface Range { startOffset: number; endOffset: number; count: number }
interface FunctionCoverage { functionName: string; ranges: Range[] }
export interface ScriptCoverage { url: string; functions: FunctionCoverage[] }

interface Script {
  bits: Uint8Array;
  /** Every function V8 has named in this script, by start offset (then longest first). */
  functions: { start: number; end: number; ran: boolean }[];
  byKey: Map<number, { start: number; end: number; ran: boolean }>;
}

export interface CoverageSummary {
  files: number;
  functions: { covered: number; total: number };
  lines: { covered: number; total: number };
  byFile: { file: string; lines: { covered: number; total: number }; functions: { covered: number; total: number } }[];
}

const key = (start: number, end: number) => start * 0x4000000 + (end - start);

export class Coverage {
  private readonly session = new inspector.Session();
  private readonly scripts = new Map<string, Script>();

  /** `keep`: the scripts whose coverage counts (not node's own, not the runner's). */
  constructor(private readonly keep: (url: string) => boolean) {
    this.session.connect();
  }

  private post(method: string, params?: object): any {
    // A session on the thread's own inspector answers before post() returns.
    let result: any;
    let error: Error | null = null;
    this.session.post(method, params, (err, r) => { error = err; result = r; });
    if (error) throw error;
    return result;
  }

  start(): void {
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
  }

  /** What ran since the last take (and resets it). */
  take(): ScriptCoverage[] {
    return (this.post('Profiler.takePreciseCoverage').result as ScriptCoverage[]).filter((s) => this.keep(s.url));
  }

  /** Characters and functions a take reached that no committed take had; with `commit`, recorded as reached. */
  scan(take: ScriptCoverage[], commit: boolean): number {
    let fresh = 0;
    for (const sc of take) {
      let s = this.scripts.get(sc.url);
      if (!s) {
        s = { bits: new Uint8Array(0), functions: [], byKey: new Map() };
        this.scripts.set(sc.url, s);
      }
      for (const f of sc.functions) this.know(s, f.ranges[0].startOffset, f.ranges[0].endOffset);
      for (const f of sc.functions) fresh += this.reach(s, f, commit);
    }
    return fresh;
  }

  private know(s: Script, start: number, end: number): void {
    if (s.byKey.has(key(start, end))) return;
    const fn = { start, end, ran: false };
    s.byKey.set(key(start, end), fn);
    let i = s.functions.length;
    while (i > 0 && (s.functions[i - 1].start > start || (s.functions[i - 1].start === start && s.functions[i - 1].end < end))) i--;
    s.functions.splice(i, 0, fn);
    if (s.bits.length < end) {
      const grown = new Uint8Array(Math.max(end, s.bits.length * 2));
      grown.set(s.bits);
      s.bits = grown;
    }
  }

  private reach(s: Script, f: FunctionCoverage, commit: boolean): number {
    const [top, ...blocks] = f.ranges;
    if (top.count === 0) return 0;
    const fn = s.byKey.get(key(top.startOffset, top.endOffset))!;
    let fresh = 0;
    if (!fn.ran) {
      fresh++;
      if (commit) fn.ran = true;
    }
    // The function's characters less the blocks that did not run (innermost range wins) and less
    // the functions nested in it, which are counted when they run themselves.
    const paint = new Uint8Array(top.endOffset - top.startOffset).fill(1);
    for (const b of blocks) paint.fill(b.count > 0 ? 1 : 0, b.startOffset - top.startOffset, b.endOffset - top.startOffset);
    for (const inner of this.nested(s, top.startOffset, top.endOffset)) paint.fill(0, inner.start - top.startOffset, inner.end - top.startOffset);
    const bits = s.bits;
    for (let i = 0; i < paint.length; i++) {
      if (paint[i] && !bits[top.startOffset + i]) {
        fresh++;
        if (commit) bits[top.startOffset + i] = 1;
      }
    }
    return fresh;
  }

  /** The outermost functions nested in [start, end). */
  private nested(s: Script, start: number, end: number): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    let lo = 0;
    let hi = s.functions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s.functions[mid].start <= start) lo = mid + 1;
      else hi = mid;
    }
    let after = start;
    for (let i = lo; i < s.functions.length && s.functions[i].start < end; i++) {
      const g = s.functions[i];
      if (g.start >= after && g.end <= end) {
        out.push(g);
        after = g.end;
      }
    }
    return out;
  }

  /**
   * The coverage of the scripts `report` picks, in lines of their compiled JavaScript that hold code.
   * Functions V8 knows but that never ran are listed by restarting coverage once (a take lists only
   * what ran), and their characters are taken back: a function nested in one that ran was counted
   * with it until V8 named it.
   */
  summary(report: (url: string) => boolean): CoverageSummary {
    this.scan(this.take(), true);
    this.post('Profiler.stopPreciseCoverage');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    for (const sc of this.take()) {
      const s = this.scripts.get(sc.url);
      if (!s) continue;
      for (const f of sc.functions) this.know(s, f.ranges[0].startOffset, f.ranges[0].endOffset);
      for (const fn of s.functions) if (!fn.ran) s.bits.fill(0, fn.start, fn.end);
    }
    const out: CoverageSummary = { files: 0, functions: { covered: 0, total: 0 }, lines: { covered: 0, total: 0 }, byFile: [] };
    for (const [url, s] of this.scripts) {
      if (!report(url)) continue;
      let text: string;
      try {
        text = fs.readFileSync(url.startsWith('file:') ? fileURLToPath(url) : url, 'utf8');
      } catch {
        continue;
      }
      const lines = { covered: 0, total: 0 };
      let at = 0;
      for (const line of text.split('\n')) {
        const lead = line.length - line.trimStart().length;
        const code = line.trim();
        if (code && !/^(\/\/|\/\*|\*)/.test(code) && !code.startsWith('//# sourceMappingURL')) {
          lines.total++;
          if (s.bits[at + lead]) lines.covered++;
        }
        at += line.length + 1;
      }
      const functions = { covered: s.functions.filter((f) => f.ran).length, total: s.functions.length };
      out.files++;
      out.lines.covered += lines.covered;
      out.lines.total += lines.total;
      out.functions.covered += functions.covered;
      out.functions.total += functions.total;
      out.byFile.push({ file: url, lines, functions });
    }
    out.byFile.sort((a, b) => a.file.localeCompare(b.file));
    return out;
  }
}

// New inputs from the corpus: byte-level mutations as libFuzzer and AFL make them (bits and
// bytes flipped, ranges inserted, deleted, duplicated or copied, two entries spliced), plus the
// target's dictionary tokens and the text edits that matter to the hub's inputs (numbers made huge,
// digits made full-width, a token repeated until the input is deep or long). Deterministic for a
// seed, so that a run can be repeated.

import { Random as SeededRandom } from '../../../infra/simulators/random';

/**
 * The seedable generator the simulators draw from (sfc32, infra/simulators/random.ts), with the one
 * draw mutations need besides: an index below n. Good enough to choose mutations, and a run is
 * repeated by its seed.
 */
export class Random extends SeededRandom {
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.int(0, n - 1);
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x09, 0x0a, 0x0d, 0x22, 0x26, 0x27, 0x3c, 0x3e, 0x5c, 0x2d, 0x2e, 0x3a, 0x40, 0x24, 0x7b, 0x5b];
// Texts a number may be replaced with: huge, negative, fractional, exponent, not numbers at all.
const NUMBERS = ['0', '-1', '-0', '1', '00', '0.5', '1e309', '-1e309', '1e-400', '9007199254740993', '99999999999999999999999999', '4294967296', 'NaN', 'Infinity', '0x10', '１２３', '٣'];

export interface MutatorOptions {
  maxLen: number;
  /** The target's dictionary tokens. */
  tokens: readonly Buffer[];
}

/** Makes new inputs from corpus entries. */
export class Mutator {
  constructor(private readonly rng: Random, private readonly opts: MutatorOptions) {}

  /** One new input from `parent`, with 1 to 8 stacked mutations; `other` is a second corpus entry to splice with. */
  mutate(parent: Buffer, other: Buffer): Buffer {
    let data = parent;
    const n = 1 << this.rng.below(4);
    for (let i = 0; i < n; i++) data = this.once(data, other);
    return data.length > this.opts.maxLen ? data.subarray(0, this.opts.maxLen) : data;
  }

  private once(d: Buffer, other: Buffer): Buffer {
    const r = this.rng;
    const tokens = this.opts.tokens;
    switch (r.below(tokens.length ? 19 : 15)) {
      case 0: return d.length ? this.set(d, r.below(d.length), (b) => b ^ (1 << r.below(8))) : this.insert(d, 0, Buffer.from([r.below(256)]));
      case 1: return d.length ? this.set(d, r.below(d.length), () => r.below(256)) : d;
      case 2: return d.length ? this.set(d, r.below(d.length), () => r.pick(INTERESTING_BYTES)) : d;
      case 3: return d.length ? this.set(d, r.below(d.length), (b) => (b + (r.chance(0.5) ? 1 : -1) * (1 + r.below(35))) & 0xff) : d;
      case 4: return this.insert(d, r.below(d.length + 1), this.randomBytes(1 + r.below(16)));
      case 5: return this.erase(d);
      case 6: return this.duplicate(d);
      case 7: return this.copyWithin(d);
      case 8: return this.splice(d, other);
      case 9: return this.replaceNumber(d);
      case 10: return this.fullWidthDigits(d);
      case 11: return this.shuffle(d);
      case 12: return this.flipCase(d);
      case 13: return this.insert(d, r.below(d.length + 1), Buffer.from(r.pick(NUMBERS)));
      case 14: return this.nest(d);
      case 15: case 16: return this.insert(d, r.below(d.length + 1), r.pick(tokens));
      case 17: return this.overwrite(d, r.pick(tokens));
      default: return this.repeatToken(d, r.pick(tokens));
    }
  }

  private randomBytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.chance(0.5) ? 0x20 + this.rng.below(95) : this.rng.below(256);
    return b;
  }

  private set(d: Buffer, at: number, f: (b: number) => number): Buffer {
    const out = Buffer.from(d);
    out[at] = f(out[at]);
    return out;
  }

  private insert(d: Buffer, at: number, piece: Buffer): Buffer {
    return Buffer.concat([d.subarray(0, at), piece, d.subarray(at)]);
  }

  private range(d: Buffer): [number, number] {
    const start = this.rng.below(d.length + 1);
    const len = this.rng.chance(0.8) ? 1 + this.rng.below(Math.min(32, d.length - start + 1)) : this.rng.below(d.length - start + 1);
    return [start, start + len];
  }

  private erase(d: Buffer): Buffer {
    if (!d.length) return d;
    const [s, e] = this.range(d);
    return Buffer.concat([d.subarray(0, s), d.subarray(e)]);
  }

  private duplicate(d: Buffer): Buffer {
    if (!d.length) return d;
    const [s, e] = this.range(d);
    return this.insert(d, this.rng.chance(0.5) ? e : this.rng.below(d.length + 1), Buffer.from(d.subarray(s, e)));
  }

  private copyWithin(d: Buffer): Buffer {
    if (d.length < 2) return d;
    const [s, e] = this.range(d);
    const to = this.rng.below(d.length);
    const out = Buffer.from(d);
    out.set(d.subarray(s, Math.min(e, s + d.length - to)), to);
    return out;
  }

  /** The head of one entry and the tail of another. */
  private splice(d: Buffer, other: Buffer): Buffer {
    if (!other.length) return d;
    return Buffer.concat([d.subarray(0, this.rng.below(d.length + 1)), other.subarray(this.rng.below(other.length))]);
  }

  private overwrite(d: Buffer, token: Buffer): Buffer {
    const at = this.rng.below(d.length + 1);
    return Buffer.concat([d.subarray(0, at), token, d.subarray(Math.min(d.length, at + token.length))]);
  }

  /** A token repeated many times at one place: nesting depth, long runs, large batches. */
  private repeatToken(d: Buffer, token: Buffer): Buffer {
    const times = 2 + this.rng.below(Math.max(2, Math.floor(this.opts.maxLen / Math.max(1, token.length) / 2)));
    return this.insert(d, this.rng.below(d.length + 1), Buffer.alloc(Math.min(this.opts.maxLen, token.length * times), token));
  }

  /**
   * A JSON array or object, or an XML element, wrapped in many more of its kind: deep nesting,
   * which random edits almost never balance. The bracket or the element is found by its text alone.
   */
  private nest(d: Buffer): Buffer {
    const text = d.toString('latin1');
    const starts: number[] = [];
    for (let i = 0; i < text.length; i++) if (text[i] === '[' || text[i] === '{' || (text[i] === '<' && /[A-Za-z_]/.test(text[i + 1] ?? ''))) starts.push(i);
    if (!starts.length) return d;
    const at = this.rng.pick(starts);
    let open: string;
    let close: string;
    let end: number;
    if (text[at] === '<') {
      const name = /^<([^\s/>]+)/.exec(text.slice(at))![1];
      const closing = text.indexOf(`</${name}>`, at);
      if (closing === -1) return d;
      [open, close, end] = [`<${name}>`, `</${name}>`, closing + name.length + 3];
    } else {
      [open, close] = text[at] === '[' ? ['[', ']'] : ['{"a":', '}'];
      let depth = 0;
      end = at;
      do {
        if (text[end] === '[' || text[end] === '{') depth++;
        else if (text[end] === ']' || text[end] === '}') depth--;
        end++;
      } while (depth > 0 && end < text.length);
    }
    const room = Math.floor((this.opts.maxLen - d.length) / (open.length + close.length));
    if (room < 1) return d;
    const times = 1 + this.rng.below(Math.min(room, this.rng.chance(0.5) ? 64 : 20000));
    return Buffer.concat([d.subarray(0, at), Buffer.from(open.repeat(times), 'latin1'), d.subarray(at, end), Buffer.from(close.repeat(times), 'latin1'), d.subarray(end)]);
  }

  /** The span of ASCII digits (with a sign and a point) around a random digit, or null. */
  private digitRun(d: Buffer): [number, number] | null {
    const digits: number[] = [];
    for (let i = 0; i < d.length; i++) if (d[i] >= 0x30 && d[i] <= 0x39) digits.push(i);
    if (!digits.length) return null;
    let s = this.rng.pick(digits);
    let e = s;
    while (s > 0 && /[0-9.+-]/.test(String.fromCharCode(d[s - 1]))) s--;
    while (e < d.length && /[0-9.]/.test(String.fromCharCode(d[e]))) e++;
    return [s, e];
  }

  private replaceNumber(d: Buffer): Buffer {
    const run = this.digitRun(d);
    if (!run) return this.insert(d, this.rng.below(d.length + 1), Buffer.from(this.rng.pick(NUMBERS)));
    return Buffer.concat([d.subarray(0, run[0]), Buffer.from(this.rng.pick(NUMBERS)), d.subarray(run[1])]);
  }

  /** ASCII digits as an input method types them: U+FF10–U+FF19. */
  private fullWidthDigits(d: Buffer): Buffer {
    const run = this.digitRun(d);
    if (!run) return d;
    const [s, e] = run;
    const wide = [...d.subarray(s, e).toString('latin1')].map((c) => (c >= '0' && c <= '9' ? String.fromCharCode(0xff10 + c.charCodeAt(0) - 48) : c)).join('');
    return Buffer.concat([d.subarray(0, s), Buffer.from(wide, 'utf8'), d.subarray(e)]);
  }

  private shuffle(d: Buffer): Buffer {
    if (d.length < 2) return d;
    const out = Buffer.from(d);
    const s = this.rng.below(d.length - 1);
    const n = Math.min(d.length - s, 2 + this.rng.below(7));
    for (let i = n - 1; i > 0; i--) {
      const j = this.rng.below(i + 1);
      [out[s + i], out[s + j]] = [out[s + j], out[s + i]];
    }
    return out;
  }

  private flipCase(d: Buffer): Buffer {
    const letters: number[] = [];
    for (let i = 0; i < d.length; i++) if (/[A-Za-z]/.test(String.fromCharCode(d[i]))) letters.push(i);
    return letters.length ? this.set(d, this.rng.pick(letters), (b) => b ^ 0x20) : d;
  }
}

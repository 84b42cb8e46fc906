// Reads an XML batch file (a batch element whose children are records) as a stream, in constant
// memory whatever its size: bytes are hashed, decoded by the declared encoding and fed to a SAX
// parser, and records are built one at a time. Used twice per file: once to check the whole file
// (nothing is applied from a corrupt file), once to hand its records over.

import fs from 'node:fs';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import * as iconv from 'iconv-lite';
import { SaxesParser, SaxesTagPlain } from 'saxes';
import { charsetKey, charsetFromDeclaration, MAX_ELEMENT_DEPTH } from '../transports/xml-safety';

export interface BatchFileFormat {
  /** Name of the batch element; another root element makes the file corrupt. */
  root?: string;
  /** Name of a record element (a child of the batch element). */
  record: string;
  /** Batch attribute that states the number of records (`JLS`); checked against the count. */
  countAttribute?: string;
  /** Encodings a file may declare (`GB18030`, `GBK`, `UTF-8`). */
  encodings: readonly string[];
  /** Encoding of a file without an encoding declaration. */
  fallbackEncoding: string;
  /** A larger file is corrupt (and is not read past the limit). */
  maxBytes: number;
}

/** A record as the mapping engine reads it: child elements by name (text, or an object with `@_attr`, `#text` and children; repeated children as arrays). */
export type XmlRecord = { [field: string]: XmlValue };
export type XmlValue = string | XmlRecord | XmlValue[];

export interface IndexedRecord {
  /** Position of the record in the file, from 0. */
  index: number;
  record: XmlRecord;
}

export type CorruptRule = 'size' | 'charset' | 'encoding' | 'doctype' | 'not-well-formed' | 'too-deep' | 'root' | 'count';

/** The file as a whole cannot be taken: the reason (Chinese first, for the sender; detail for operators) goes into its receipt. */
export class CorruptFile extends Error {
  constructor(readonly rule: CorruptRule, readonly reason: string) {
    super(reason);
    this.name = 'CorruptFile';
  }
}

export interface BatchSummary {
  /** Null only when the file was too large to be read to its end. */
  sha256: string | null;
  size: number;
  encoding: string | null;
  /** Attributes of the batch element. */
  batch: Record<string, string>;
  /** Records found (up to the first error, if any). */
  records: number;
  /** Why the file is corrupt; absent when it may be applied. */
  corrupt?: CorruptFile;
}

export interface ReadOptions {
  /**
   * Called with the records parsed from each block of bytes, in file order; reading waits for the
   * promise, which keeps memory bounded by a block. Without it records are only counted.
   */
  onRecords?: (records: IndexedRecord[], batch: Readonly<Record<string, string>>) => Promise<void> | void;
  /** Records before this index are parsed but not built (a file resumed after a stop). */
  skip?: number;
  /** Bytes per read. */
  blockBytes?: number;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
// charsetFromDeclaration reads the declaration from the first 256 bytes.
const DECLARATION_BYTES = 256;

/**
 * Reads the whole file. Without `onRecords` (the checking pass) a corrupt file is reported in the
 * summary, hashed to its end all the same, so that a re-sent corrupt file is recognised; with it,
 * a corrupt file throws {@link CorruptFile}. I/O errors are thrown as they are.
 */
export async function readBatchFile(file: string | Buffer, format: BatchFileFormat, opts: ReadOptions = {}): Promise<BatchSummary> {
  const hash = createHash('sha256');
  const blockBytes = opts.blockBytes ?? 256 * 1024;
  const stream = typeof file === 'string' ? fs.createReadStream(file, { highWaterMark: blockBytes }) : Readable.from(blocksOf(file, blockBytes));
  const state = new BatchParser(format, !!opts.onRecords, opts.skip ?? 0);
  let size = 0;
  let decoder: ((bytes: Buffer) => string) | null = null;
  let head: Buffer | null = null;
  let corrupt: CorruptFile | undefined;
  try {
    for await (const block of stream as AsyncIterable<Buffer>) {
      size += block.length;
      if (size > format.maxBytes) {
        corrupt = new CorruptFile('size', `文件超过大小上限 ${format.maxBytes} 字节 (the file is larger than the limit of ${format.maxBytes} bytes)`);
        return { sha256: null, size, encoding: state.encoding, batch: state.batch, records: state.count, corrupt };
      }
      hash.update(block);
      if (corrupt) continue;
      try {
        let bytes = block;
        if (!decoder) {
          // The encoding declaration must be whole before the decoder is chosen.
          head = head ? Buffer.concat([head, block]) : block;
          if (head.length < DECLARATION_BYTES) continue;
          const chosen = chooseDecoder(head, format);
          state.encoding = chosen.encoding;
          decoder = chosen.decode;
          bytes = chosen.rest;
          head = null;
        }
        state.write(decoder(bytes));
        if (opts.onRecords && state.pending.length) await opts.onRecords(state.take(), state.batch);
      } catch (err) {
        if (!(err instanceof CorruptFile) || opts.onRecords) throw err;
        corrupt = err;
      }
    }
    if (!corrupt) {
      try {
        if (!decoder) {
          if (!head?.length) throw new CorruptFile('not-well-formed', '文件为空 (the file is empty)');
          const chosen = chooseDecoder(head, format);
          state.encoding = chosen.encoding;
          decoder = chosen.decode;
          state.write(decoder(chosen.rest));
        }
        state.write(decoder(Buffer.alloc(0)), true);
        state.end();
        if (opts.onRecords && state.pending.length) await opts.onRecords(state.take(), state.batch);
      } catch (err) {
        if (!(err instanceof CorruptFile) || opts.onRecords) throw err;
        corrupt = err;
      }
    }
  } finally {
    stream.destroy();
  }
  return { sha256: hash.digest('hex'), size, encoding: state.encoding, batch: state.batch, records: state.count, ...(corrupt ? { corrupt } : {}) };
}

function* blocksOf(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** The decoder the file's first bytes call for: its declared encoding, else the fallback. */
function chooseDecoder(first: Buffer, format: BatchFileFormat): { encoding: string; rest: Buffer; decode: (bytes: Buffer, last?: boolean) => string } {
  if ((first[0] === 0xff && first[1] === 0xfe) || (first[0] === 0xfe && first[1] === 0xff)) {
    throw new CorruptFile('charset', `文件编码不受支持: UTF-16 (allowed: ${format.encodings.join(', ')})`);
  }
  const bom = first.subarray(0, 3).equals(UTF8_BOM);
  const declared = charsetFromDeclaration(first);
  const encoding = declared ?? (bom ? 'UTF-8' : format.fallbackEncoding);
  const key = charsetKey(encoding);
  if (!format.encodings.some((e) => charsetKey(e) === key) || !iconv.encodingExists(encoding)) {
    throw new CorruptFile('charset', `文件编码不受支持: ${encoding} (the ${declared ? 'XML declaration says' : 'fallback is'} ${JSON.stringify(encoding)}; allowed: ${format.encodings.join(', ')})`);
  }
  if (bom && key !== 'utf8') throw new CorruptFile('charset', `文件有 UTF-8 字节顺序标记，却声明编码 ${encoding} (a UTF-8 byte order mark with encoding ${JSON.stringify(encoding)})`);
  const rest = bom ? first.subarray(3) : first;
  if (key === 'utf8') {
    const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    return {
      encoding: 'UTF-8', rest,
      decode: (bytes) => {
        try {
          return utf8.decode(bytes, { stream: bytes.length > 0 });
        } catch {
          throw new CorruptFile('encoding', '文件含有不符合 UTF-8 编码的字节 (invalid UTF-8 bytes)');
        }
      },
    };
  }
  const dec = iconv.getDecoder(encoding);
  return {
    encoding: encoding.toUpperCase(), rest,
    decode: (bytes) => {
      const text = bytes.length ? dec.write(bytes) : dec.end() ?? '';
      // The decoder puts U+FFFD where bytes are invalid (or cut short at the end of the file).
      if (text.includes('\uFFFD')) throw new CorruptFile('encoding', `文件含有不符合 ${encoding} 编码的字节 (invalid ${encoding} bytes)`);
      return text;
    },
  };
}

interface Frame {
  name: string;
  attributes: Record<string, string>;
  children: XmlRecord | null;
  text: string;
}

/** SAX events → batch attributes, a record count, and (when building) records. */
class BatchParser {
  encoding: string | null = null;
  batch: Record<string, string> = {};
  count = 0;
  pending: IndexedRecord[] = [];
  private readonly parser = new SaxesParser({ xmlns: false, position: true });
  private depth = 0;
  private declared: number | null = null;
  private frames: Frame[] = [];
  private building = false;

  constructor(private readonly format: BatchFileFormat, private readonly build: boolean, private readonly skip: number) {
    const p = this.parser;
    p.on('error', (err) => { throw new CorruptFile('not-well-formed', `文件不是格式正确的 XML (${err.message})`); });
    // DTDs are the only way to declare entities (billion laughs, external references): refused outright.
    p.on('doctype', () => { throw new CorruptFile('doctype', '文件含有 DOCTYPE 声明，不予处理 (DTDs and entity declarations are refused)'); });
    p.on('opentag', (tag) => this.open(tag));
    p.on('closetag', () => this.close());
    if (build) {
      p.on('text', (t) => { if (this.building) this.frames[this.frames.length - 1].text += t; });
      p.on('cdata', (t) => { if (this.building) this.frames[this.frames.length - 1].text += t; });
    }
  }

  write(text: string, last = false): void {
    if (text) this.parser.write(text);
    if (last) this.parser.close();
  }

  take(): IndexedRecord[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  end(): void {
    const attr = this.format.countAttribute;
    if (attr && this.declared !== this.count) {
      throw new CorruptFile('count', `记录数与 ${attr} 不符: ${attr} 为 ${this.batch[attr]}, 实有 ${this.count} 条 (${attr} says ${this.batch[attr]}, the file holds ${this.count} ${this.format.record} records)`);
    }
  }

  private open(tag: SaxesTagPlain): void {
    this.depth++;
    // A record nested a few thousand levels deep was refused as a dead letter that could not be
    // written (JSON.stringify ran out of stack), and its file was tried again for ever.
    if (this.depth > MAX_ELEMENT_DEPTH) {
      throw new CorruptFile('too-deep', `文件中的元素嵌套过深 (elements nested deeper than ${MAX_ELEMENT_DEPTH} levels)`);
    }
    const name = localName(tag.name);
    if (this.depth === 1) {
      if (this.format.root && name !== this.format.root) {
        throw new CorruptFile('root', `根元素应为 ${this.format.root}, 实为 ${name} (the batch element must be ${this.format.root})`);
      }
      this.batch = { ...tag.attributes };
      const attr = this.format.countAttribute;
      if (attr) {
        const v = this.batch[attr];
        if (v === undefined || !/^\s*\d{1,9}\s*$/.test(v)) {
          throw new CorruptFile('count', `${attr} 缺失或不是数字: ${v === undefined ? '(缺失)' : JSON.stringify(v)} (the record count attribute ${attr} must be a number)`);
        }
        this.declared = Number(v);
      }
      return;
    }
    if (this.depth === 2) {
      if (name !== this.format.record) return;
      const index = this.count++;
      this.building = this.build && index >= this.skip;
    }
    if (this.building) this.frames.push({ name, attributes: tag.attributes, children: null, text: '' });
  }

  private close(): void {
    this.depth--;
    if (!this.building) return;
    const frame = this.frames.pop()!;
    if (this.frames.length === 0) {
      this.pending.push({ index: this.count - 1, record: asRecord(frame) });
      this.building = false;
      return;
    }
    const parent = this.frames[this.frames.length - 1];
    const value = valueOf(frame);
    const children = (parent.children ??= {});
    const prior = children[frame.name];
    if (prior === undefined) children[frame.name] = value;
    else if (Array.isArray(prior)) prior.push(value);
    else children[frame.name] = [prior, value];
  }
}

/** `sw:JL` → `JL`: records are read by local names, whatever prefix a file binds. */
function localName(name: string): string {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
}

function asRecord(frame: Frame): XmlRecord {
  const out: XmlRecord = frame.children ?? {};
  for (const [k, v] of Object.entries(frame.attributes)) out[`@_${k}`] = v;
  if (frame.text.trim()) out['#text'] = frame.text;
  return out;
}

/** A leaf element is its text; an element with attributes or children is an object. */
function valueOf(frame: Frame): XmlValue {
  if (!frame.children && Object.keys(frame.attributes).length === 0) return frame.text;
  return asRecord(frame);
}

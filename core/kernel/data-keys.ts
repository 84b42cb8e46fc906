import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { HubError } from './errors';

/**
 * The data keys: personal data at rest is sealed with AES-256-GCM under the current key, and looked
 * up by a keyed hash (HMAC-SHA256) of its normalised value. Every sealed value names the key that
 * sealed it, so that values under an older key still open while `hub rekey` moves them to the new
 * one, and look-ups hash under every key of the ring.
 *
 * The key file (HUB_DATA_KEY_FILE) is JSON: `{"current": id, "keys": [{"id", "key": base64 of 32
 * bytes, "createdAt"}]}`. Each key is only the root of two keys derived with HKDF, one to seal and
 * one to hash, so a hash never uses the sealing key.
 */

/** The sealed form of a text: `pd1.<key id>.<base64url of iv | ciphertext | tag>`. */
const TEXT_PREFIX = 'pd1.';
/** The sealed form of bytes starts with these, then the key id's length (one byte), the id, iv, ciphertext and tag. */
const BYTES_MAGIC = Buffer.from('HPD1', 'latin1');
const IV_BYTES = 12;

/**
 * A fresh random IV for each sealed value, from the system's CSPRNG drawn for 512 IVs at a time:
 * one draw per value cost more than the sealing itself (a batch seals several values per record).
 * Each IV is handed out once.
 */
const ivPool = { bytes: Buffer.alloc(0), at: 0 };
function freshIv(): Buffer {
  if (ivPool.at + IV_BYTES > ivPool.bytes.length) {
    ivPool.bytes = randomBytes(IV_BYTES * 512);
    ivPool.at = 0;
  }
  const iv = ivPool.bytes.subarray(ivPool.at, ivPool.at + IV_BYTES);
  ivPool.at += IV_BYTES;
  return iv;
}
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface KeyFileEntry {
  id: string;
  /** base64 of 32 random bytes */
  key: string;
  createdAt: string;
}

export interface KeyFile {
  current: string;
  keys: KeyFileEntry[];
}

interface Key {
  id: string;
  seal: Buffer;
  hash: Buffer;
  /** A hash of the key that proves it is the same key elsewhere, and reveals nothing of it. */
  fingerprint: string;
}

export class DataKeyError extends HubError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, 'DATA_KEY', 'data-key', context);
  }
}

function derive(root: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `case-exchange-hub ${purpose}`, 32));
}

function toKey(e: KeyFileEntry, file: string): Key {
  if (!KEY_ID.test(e.id ?? '')) throw new DataKeyError(`key file ${file}: the key id ${JSON.stringify(e.id)} is not 1 to 64 letters, digits, - or _`, { file });
  const root = Buffer.from(e.key ?? '', 'base64');
  if (root.length !== 32) throw new DataKeyError(`key file ${file}: key ${e.id} is not 32 bytes in base64`, { file, keyId: e.id });
  return {
    id: e.id, seal: derive(root, 'seal'), hash: derive(root, 'lookup'),
    fingerprint: createHash('sha256').update('case-exchange-hub key fingerprint\n').update(root).digest('hex').slice(0, 32),
  };
}

/** A new key id: its creation time, then random letters (ids sort by age). */
export function newKeyId(now = new Date()): string {
  return `k${now.toISOString().replace(/[-:TZ.]/g, '').slice(0, 14)}${randomBytes(3).toString('hex')}`;
}

/** A key file with one more key, made current. */
export function withNewKey(file: KeyFile | null, now = new Date()): KeyFile {
  const entry: KeyFileEntry = { id: newKeyId(now), key: randomBytes(32).toString('base64'), createdAt: now.toISOString() };
  return { current: entry.id, keys: [...(file?.keys ?? []), entry] };
}

/** Writes a key file whole (a new file, then renamed over the old), readable by its owner alone. */
export function writeKeyFile(file: string, content: KeyFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Makes a key file unless one exists, atomically: two nodes starting at once on one data folder
 * must not each make a key of their own (the loser reads the winner's).
 */
function createKeyFile(file: string, content: KeyFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  fs.writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.unlinkSync(tmp);
  }
}

export function readKeyFile(file: string): KeyFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataKeyError(`cannot read the data key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file });
  }
  let parsed: KeyFile;
  try {
    parsed = JSON.parse(text) as KeyFile;
  } catch {
    // The text is never shown: it holds keys.
    throw new DataKeyError(`the data key file ${file} is not JSON`, { file });
  }
  if (!parsed || !Array.isArray(parsed.keys) || typeof parsed.current !== 'string') {
    throw new DataKeyError(`the data key file ${file} needs "current" and "keys"`, { file });
  }
  if (!parsed.keys.some((k) => k.id === parsed.current)) throw new DataKeyError(`the data key file ${file} names current key ${parsed.current}, which it does not hold`, { file });
  return parsed;
}

/** The keys of a key file, re-read when the file changes (another process added a key: `hub rekey`). */
export class DataKeys {
  private keys = new Map<string, Key>();
  private current!: Key;
  private stamp = '';

  private constructor(readonly file: string) {
    this.load();
  }

  /** The keys of `file`. With `create`, a missing file is made with one new key (the embedded demo's first start). */
  static open(file: string, opts: { create?: boolean } = {}): DataKeys {
    if (opts.create && !fs.existsSync(file)) createKeyFile(file, withNewKey(null));
    return new DataKeys(file);
  }

  private load(): void {
    const content = readKeyFile(this.file);
    const keys = new Map<string, Key>();
    for (const e of content.keys) keys.set(e.id, toKey(e, this.file));
    this.keys = keys;
    this.current = keys.get(content.current)!;
    this.stamp = fileStamp(this.file);
  }

  /** Re-reads the key file if it changed since it was read; answers whether it did. */
  reload(): boolean {
    const stamp = fileStamp(this.file);
    if (stamp === this.stamp) return false;
    this.load();
    return true;
  }

  get currentId(): string {
    return this.current.id;
  }

  ids(): string[] {
    return [...this.keys.keys()];
  }

  /** Each key's id and fingerprint (never the key). */
  fingerprints(): { id: string; fingerprint: string }[] {
    return [...this.keys.values()].map((k) => ({ id: k.id, fingerprint: k.fingerprint }));
  }

  private key(id: string): Key {
    let k = this.keys.get(id);
    // A key added since the file was read (a rekey started by another process).
    if (!k && this.reload()) k = this.keys.get(id);
    if (!k) throw new DataKeyError(`a value is sealed under data key ${id}, which the key file ${this.file} does not hold`, { keyId: id, file: this.file });
    return k;
  }

  /** Seals a text under the current key. `context` names what the value is (a column): a sealed value opens only in the context it was sealed for. */
  seal(plain: string, context: string): string {
    const k = this.current;
    const iv = freshIv();
    const c = createCipheriv('aes-256-gcm', k.seal, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    const out = Buffer.concat([iv, c.update(plain, 'utf8'), c.final(), c.getAuthTag()]);
    return `${TEXT_PREFIX}${k.id}.${out.toString('base64url')}`;
  }

  open(sealed: string, context: string): string {
    const m = /^pd1\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]+)$/.exec(sealed);
    if (!m) throw new DataKeyError(`a ${context} value is not sealed data`, { context });
    const k = this.key(m[1]);
    const raw = Buffer.from(m[2], 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new DataKeyError(`a sealed ${context} value is cut short`, { context, keyId: k.id });
    return this.decrypt(k, raw.subarray(0, IV_BYTES), raw.subarray(IV_BYTES, raw.length - TAG_BYTES), raw.subarray(raw.length - TAG_BYTES), context).toString('utf8');
  }

  /** Seals bytes (a raw message) under the current key. */
  sealBytes(plain: Uint8Array, context: string): Buffer {
    const k = this.current;
    const id = Buffer.from(k.id, 'latin1');
    const iv = freshIv();
    const c = createCipheriv('aes-256-gcm', k.seal, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    return Buffer.concat([BYTES_MAGIC, Buffer.from([id.length]), id, iv, c.update(plain), c.final(), c.getAuthTag()]);
  }

  /** Opens sealed bytes; bytes stored before sealing (no mark) are answered as they are. */
  openBytes(stored: Uint8Array, context: string): Buffer {
    const buf = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    const id = sealedBytesKeyId(buf);
    if (id === null) return buf;
    const at = BYTES_MAGIC.length + 1 + id.length;
    const k = this.key(id);
    return this.decrypt(k, buf.subarray(at, at + IV_BYTES), buf.subarray(at + IV_BYTES, buf.length - TAG_BYTES), buf.subarray(buf.length - TAG_BYTES), context);
  }

  private decrypt(k: Key, iv: Buffer, body: Buffer, tag: Buffer, context: string): Buffer {
    try {
      const d = createDecipheriv('aes-256-gcm', k.seal, iv);
      d.setAAD(Buffer.from(context, 'utf8'));
      d.setAuthTag(tag);
      return Buffer.concat([d.update(body), d.final()]);
    } catch {
      throw new DataKeyError(`a sealed ${context} value does not open under data key ${k.id}: it was changed, or sealed for another place`, { context, keyId: k.id });
    }
  }

  /** The keyed hash of a normalised value under the current key (what is stored for look-ups). */
  lookupKey(kind: string, normalised: string): string {
    return hashWith(this.current, kind, normalised);
  }

  /** The keyed hash under every key of the ring: a look-up matches values hashed before and after a rekey. */
  lookupKeys(kind: string, normalised: string): string[] {
    return [...this.keys.values()].map((k) => hashWith(k, kind, normalised));
  }
}

function hashWith(k: Key, kind: string, normalised: string): string {
  return `${k.id}.${createHmac('sha256', k.hash).update(kind).update('\u0000').update(normalised, 'utf8').digest('base64url')}`;
}

function fileStamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return '';
  }
}

/** The key id of a sealed text; null for a value that is not sealed. */
export function sealedKeyId(value: unknown): string | null {
  if (typeof value !== 'string' || !value.startsWith(TEXT_PREFIX)) return null;
  const end = value.indexOf('.', TEXT_PREFIX.length);
  return end > 0 ? value.slice(TEXT_PREFIX.length, end) : null;
}

/** A sealed text moved to the current key (what `hub rekey` writes back), or null when it is under it already. */
export function resealed(keys: DataKeys, sealed: string, context: string): string | null {
  if (sealedKeyId(sealed) === keys.currentId) return null;
  return keys.seal(keys.open(sealed, context), context);
}

/** The key id of sealed bytes; null for bytes stored before sealing. */
export function sealedBytesKeyId(buf: Uint8Array): string | null {
  if (buf.length < BYTES_MAGIC.length + 1 || !BYTES_MAGIC.equals(Buffer.from(buf.buffer, buf.byteOffset, BYTES_MAGIC.length))) return null;
  const n = buf[BYTES_MAGIC.length];
  return Buffer.from(buf.buffer, buf.byteOffset + BYTES_MAGIC.length + 1, n).toString('latin1');
}

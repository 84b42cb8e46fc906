import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { DataKeys, readKeyFile, sealedKeyId, withNewKey, writeKeyFile } from './data-keys';

describe('data keys: AES-256-GCM sealing and keyed look-up hashes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-keys-'));
  const file = path.join(dir, 'keys.json');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes a key file on first open (readable by its owner alone), and opens what it sealed, text and bytes', () => {
    const keys = DataKeys.open(file, { create: true });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 300 }), (text, bytes) => {
      const sealed = keys.seal(text, 'ctx');
      assert.equal(sealedKeyId(sealed), keys.currentId);
      assert.equal(keys.open(sealed, 'ctx'), text);
      assert.deepEqual(keys.openBytes(keys.sealBytes(bytes, 'b'), 'b'), Buffer.from(bytes));
    }), { numRuns: 300 });
  });

  it('seals every value under an IV of its own, the same text twice included, text and bytes alike', () => {
    const keys = DataKeys.open(file);
    const ivs = new Set<string>();
    const n = 3000;
    for (let i = 0; i < n; i++) {
      // A sealed text is pd1.<key id>.<base64url of IV, ciphertext, tag>.
      const text = Buffer.from(keys.seal('130102198503120412', 'ctx').split('.')[2], 'base64url');
      ivs.add(text.subarray(0, 12).toString('hex'));
      // Sealed bytes end with the IV, the ciphertext (as long as the 6 bytes sealed) and the 16-byte tag.
      const bytes = keys.sealBytes(Buffer.from('<xml/>'), 'b');
      const at = bytes.length - 16 - 6 - 12;
      ivs.add(bytes.subarray(at, at + 12).toString('hex'));
    }
    assert.equal(ivs.size, 2 * n);
  });

  it('refuses a sealed value changed by one character, or opened for another place than it was sealed for', () => {
    const keys = DataKeys.open(file);
    const sealed = keys.seal('130102198503120412', 'event.applicant');
    const at = sealed.length - 5;
    const changed = sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1);
    assert.throws(() => keys.open(changed, 'event.applicant'), /does not open under data key/);
    assert.throws(() => keys.open(sealed, 'dead-letter.value'), /does not open under data key/);
    const bytes = keys.sealBytes(Buffer.from('<xml/>'), 'inbox.body');
    bytes[bytes.length - 1] ^= 1;
    assert.throws(() => keys.openBytes(bytes, 'inbox.body'), /does not open/);
    // Bytes stored before sealing are read as they are.
    assert.equal(keys.openBytes(Buffer.from('<xml/>'), 'inbox.body').toString(), '<xml/>');
  });

  it('after a key is added by another process: seals under it, still opens values under the old one, and looks up under both', () => {
    const keys = DataKeys.open(file);
    const old = keys.currentId;
    const sealedBefore = keys.seal('13803110425', 'm');
    const hashBefore = keys.lookupKey('idNumber', '130102198503120412');
    writeKeyFile(file, withNewKey(readKeyFile(file), new Date(Date.now() + 1000)));
    // The hub re-reads the file when it changes; an unknown key id makes it look too.
    assert.equal(keys.reload(), true);
    assert.notEqual(keys.currentId, old);
    assert.equal(sealedKeyId(keys.seal('x', 'm')), keys.currentId);
    assert.equal(keys.open(sealedBefore, 'm'), '13803110425');
    assert.ok(keys.lookupKeys('idNumber', '130102198503120412').includes(hashBefore));
    assert.notEqual(keys.lookupKey('idNumber', '130102198503120412'), hashBefore, 'the hash is the key\'s own');
    assert.notEqual(keys.lookupKey('idNumber', '130102198503120412'), keys.lookupKey('mobile', '130102198503120412'), 'hashes of one value as different kinds differ');
  });

  it('names the key a value needs when the key file does not hold it', () => {
    const other = DataKeys.open(path.join(dir, 'other.json'), { create: true });
    const sealed = other.seal('王建国', 'n');
    assert.throws(() => DataKeys.open(file).open(sealed, 'n'), new RegExp(`sealed under data key ${other.currentId}, which the key file .* does not hold`));
  });

  it('two processes making the key file at once end with one key, which both read', () => {
    const f = path.join(dir, 'race', 'keys.json');
    const a = DataKeys.open(f, { create: true });
    const b = DataKeys.open(f, { create: true });
    assert.equal(a.currentId, b.currentId);
    assert.deepEqual(readKeyFile(f).keys.map((k) => k.id), [a.currentId]);
  });

  it('refuses a key file that is not JSON without showing its text, and one whose key is not 32 bytes', () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, 'secret-material-not-json');
    assert.throws(() => DataKeys.open(bad), (err: Error) => /is not JSON/.test(err.message) && !err.message.includes('secret-material'));
    fs.writeFileSync(bad, JSON.stringify({ current: 'k1', keys: [{ id: 'k1', key: Buffer.alloc(16).toString('base64'), createdAt: '' }] }));
    assert.throws(() => DataKeys.open(bad), /key k1 is not 32 bytes/);
  });
});

// A deliberately broken target, for the runner's own test (test/fuzz.test.ts): keeps 16 KiB of
// every input it sees, as a cache that is never emptied would. Not part of `make fuzz`.

const kept: Buffer[] = [];

export function fuzz(data: Buffer): void {
  kept.push(Buffer.alloc(16 * 1024, data.length % 256));
}

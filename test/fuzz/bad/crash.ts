// A deliberately broken target, for the runner's own test (test/fuzz.test.ts): a TypeError as soon
// as an input holds the byte 0x7f. Not part of `make fuzz`.

export function fuzz(data: Buffer): void {
  if (data.includes(0x7f)) (null as unknown as { field: string }).field.trim();
}

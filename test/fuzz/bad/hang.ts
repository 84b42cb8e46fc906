// A deliberately broken target, for the runner's own test (test/fuzz.test.ts): loops for ever on
// an input that holds the byte 0x48 ('H'). Not part of `make fuzz`.

export function fuzz(data: Buffer): void {
  if (!data.includes(0x48)) return;
  let n = 0;
  for (;;) n = (n + data.length) % 7;
}

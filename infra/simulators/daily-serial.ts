// Department case numbers end in a serial counted per day (SJ130100 20261124 0031). Counting up
// from a small random start, as the departments' systems do, keeps numbers unique without
// remembering every one issued; a long demo that exhausts a day's range wraps around.

import { Random } from './random';

export class DailySerial {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly rng: Random,
    private readonly min: number,
    private readonly max: number,
  ) {}

  /** The next serial of `day`, zero-padded to `width`. */
  next(day: string, width: number): string {
    const previous = this.last.get(day);
    const span = this.max - this.min + 1;
    const n = previous === undefined ? this.min + this.rng.int(0, Math.floor(span / 20)) : this.min + ((previous - this.min + 1) % span);
    this.last.set(day, n);
    return String(n).padStart(width, '0');
  }
}

/**
 * A WHERE clause built from optional filters, for the list queries (cases, dead letters, files).
 * Each condition is SQL with `?` where its values go; they become numbered parameters in order.
 * (So a condition cannot use jsonb's `?` operators: none of the filters does.)
 */
export class Where {
  readonly params: unknown[] = [];
  private readonly conditions: string[] = [];

  /** Adds a condition; its `?` take `values` in order, and there must be one value for each. */
  add(sql: string, ...values: unknown[]): this {
    const placeholders = sql.split('?').length - 1;
    if (placeholders !== values.length) throw new Error(`condition ${sql} has ${placeholders} placeholders for ${values.length} values`);
    let k = 0;
    this.conditions.push(sql.replace(/\?/g, () => this.param(values[k++])));
    return this;
  }

  /** One more parameter outside the conditions (a LIMIT): its placeholder. */
  param(value: unknown): string {
    return `$${this.params.push(value)}`;
  }

  /** `WHERE a AND b…`, or nothing when no filter was given. */
  toString(): string {
    return this.conditions.length ? `WHERE ${this.conditions.join(' AND ')}` : '';
  }
}

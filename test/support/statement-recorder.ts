import type { StatementObserver } from '../../services/store/sql-driver';

/** One node of a plan as `EXPLAIN (FORMAT JSON)` gives it. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

export interface RecordedStatement {
  sql: string;
  /** What the caller was doing when the statement was sent (see StatementRecorder.during). */
  step: string;
  /** The statement's plan with its own parameters, on its own connection, just before it ran; null for what EXPLAIN cannot show (COPY, DDL). */
  plan: PlanNode | null;
}

/** A table read by a sequential scan somewhere in a statement's plan. */
export interface SeqScan {
  relation: string;
  step: string;
  sql: string;
  plan: PlanNode;
}

// What EXPLAIN takes; the rest (BEGIN, COPY, DDL, SET) is recorded without a plan.
const EXPLAINABLE = /^\s*(WITH|SELECT|INSERT|UPDATE|DELETE|VALUES)\b/i;

/**
 * Records every statement a hub's store sends (hand `observe` to startHub's observeStatements) and
 * its plan: `EXPLAIN (FORMAT JSON)` of the statement, with its parameters, on the same connection and
 * inside the same transaction, right before the statement itself runs.
 */
export class StatementRecorder {
  readonly statements: RecordedStatement[] = [];
  private step = 'start';

  readonly observe: StatementObserver = async ({ sql, params }, sameConnection) => {
    const step = this.step;
    if (!EXPLAINABLE.test(sql)) {
      this.statements.push({ sql, step, plan: null });
      return;
    }
    const r = await sameConnection(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    const doc = r.rows[0]?.['QUERY PLAN'];
    const plan = (typeof doc === 'string' ? JSON.parse(doc) : doc)?.[0]?.Plan as PlanNode | undefined;
    if (!plan) throw new Error(`EXPLAIN gave no plan for: ${sql}`);
    this.statements.push({ sql, step, plan });
  };

  /** Labels the statements sent from now on (until the next call) with what the caller is doing. */
  during(step: string): void {
    this.step = step;
  }

  /** Statements recorded since `from` (an index into statements). */
  since(from: number): RecordedStatement[] {
    return this.statements.slice(from);
  }

  /** Every sequential scan of one of these tables in the recorded plans. */
  seqScans(relations: readonly string[]): SeqScan[] {
    const out: SeqScan[] = [];
    for (const s of this.statements) {
      if (!s.plan) continue;
      for (const node of planNodes(s.plan)) {
        if (node['Node Type'] === 'Seq Scan' && relations.includes(node['Relation Name'] ?? '')) {
          out.push({ relation: node['Relation Name']!, step: s.step, sql: s.sql, plan: s.plan });
        }
      }
    }
    return out;
  }
}

/** A plan's nodes, the root first, then every node below it (subplans and init plans included). */
export function* planNodes(plan: PlanNode): Generator<PlanNode> {
  yield plan;
  for (const child of plan.Plans ?? []) yield* planNodes(child);
}

/** The tables a plan reads (by any scan) and writes (ModifyTable), by name. */
export function planTables(plan: PlanNode): { reads: Set<string>; writes: Set<string> } {
  const reads = new Set<string>();
  const writes = new Set<string>();
  for (const node of planNodes(plan)) {
    const rel = node['Relation Name'];
    if (!rel) continue;
    if (node['Node Type'] === 'ModifyTable') writes.add(rel);
    else reads.add(rel);
  }
  return { reads, writes };
}

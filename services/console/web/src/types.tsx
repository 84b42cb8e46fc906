// The shapes of the API v1 answers the console reads (README "HTTP API (v1)", DESIGN.md "Public
// interface v1"). Only the fields the console shows; the hub may send more.

import type { CaseView as ContractCaseView } from '../../../../contracts/types';

export type Light = 'GREEN' | 'YELLOW' | 'RED';

// The answer of GET /api/v1/me, as the hub types it.
export type { VisibleDepartment, WhoAmI as Me } from '../../who-am-i-types';

export interface DepartmentRef {
  code: string;
  name: string;
  hall?: { code: string; name: string };
}

export interface CaseSummary {
  supervisionCode: string;
  department: DepartmentRef;
  item: { code: string; name: string };
  status: string;
  light: Light | null;
  deadline: string | null;
  paused: boolean;
  violations: number;
  events: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// The case view and its violations are the published contract's (contracts/v1/case-view.schema.json).
export type CaseView = ContractCaseView;
export type Violation = ContractCaseView['violations'][number];

// A department's statistics, as the supervisor types them.
export type { StatsEntry } from '../../../supervisor/stats-entry';

export interface Alert {
  id: string;
  kind: 'LIGHT_CHANGED' | 'VIOLATION' | 'FOLLOW_UP_OVERDUE' | string;
  level: 'YELLOW' | 'RED';
  supervisionCode: string;
  department: { code: string; name: string };
  from?: Light | null;
  to?: Light | null;
  violation?: { code: string; reason: string } | null;
  at: string;
}

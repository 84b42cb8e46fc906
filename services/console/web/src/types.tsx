// The shapes of the API v1 answers the console reads (README "HTTP API (v1)", DESIGN.md "Public
// interface v1"). Only the fields the console shows; the hub may send more.

export type Light = 'GREEN' | 'YELLOW' | 'RED';

export interface VisibleDepartment {
  code: string;
  name: string;
  short?: string;
  halls: { code: string; name: string }[];
  items: { code: string; name: string }[];
}

export interface Me {
  name: string;
  roles: string[];
  personalData: boolean;
  departments?: string[];
  visibleDepartments: VisibleDepartment[];
}

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

export interface Violation {
  code: string;
  eventId: string;
  reason: string;
}

export interface CaseView {
  supervisionCode: string;
  department: DepartmentRef;
  item: { code: string; name: string };
  applicant: { kind: string; name: string; idType: string; idNumber: string; mobile: string | null };
  status: string;
  light: Light | null;
  deadline: string | null;
  paused: boolean;
  violations: Violation[];
  references: { system: string; localId: string }[];
  timeline: { eventId: string; status: string; time: string; system: string; sourceCode: string; sourceLabel: string | null; remark: string | null }[];
}

export interface StatsEntry {
  code: string;
  name: string;
  received: number;
  inProgress: number;
  completed: number;
  onTimeRate: number | null;
  avgWorkingDays: number | null;
  lights: Record<Light, number>;
  violations: number;
  halls?: StatsEntry[];
}

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

// One department's (or hall's) statistics as GET /api/v1/stats/departments answers them (DESIGN.md
// "Additions to v1"), in a file of types alone, so that the console's browser code reads the same
// type the supervisor answers with.

export interface StatsEntry {
  code: string;
  name: string;
  received: number;
  inProgress: number;
  completed: number;
  onTimeRate: number | null;
  avgWorkingDays: number | null;
  lights: { GREEN: number; YELLOW: number; RED: number };
  violations: number;
  halls?: StatsEntry[];
}

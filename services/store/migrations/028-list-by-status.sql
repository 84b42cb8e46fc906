-- The supervisor's list filtered by department (or hall) and status, with a light or without, newest
-- first, read through an index in the list's order. Through the department-and-light index
-- (migration 017) with the status checked on the rows read, a rare status read thousands of rows for
-- a page of 20: at 1,000,000 cases a department's RESUMED cases of one light took 100 to 120 ms in
-- the store, 297 ms p99 over HTTP (README, "Performance"); with these, a page reads about its own
-- rows, the light checked on them. The price: a status change no longer updates a case row in place
-- (HOT), so its every index takes an entry; measured, the cost was within the spread of the runs
-- (README, "Performance").
CREATE INDEX cases_department_status ON cases (department_code, status, first_seen DESC, supervision_code DESC);
CREATE INDEX cases_hall_status ON cases (hall_code, status, first_seen DESC, supervision_code DESC) WHERE hall_code IS NOT NULL;

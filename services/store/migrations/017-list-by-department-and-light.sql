-- The supervisor's list filtered by department (or hall) and light, newest first, read through an
-- index in the list's order whatever the number of cases: a department's or a hall's cases of one
-- light, the status checked on the rows read. The light changes seldom, so a case row is still
-- updated in place (HOT) by nearly every event. The hall's index replaces cases_hall.
CREATE INDEX cases_department_light ON cases (department_code, light, first_seen DESC, supervision_code DESC);
CREATE INDEX cases_hall_light ON cases (hall_code, light, first_seen DESC, supervision_code DESC) WHERE hall_code IS NOT NULL;
DROP INDEX cases_hall;

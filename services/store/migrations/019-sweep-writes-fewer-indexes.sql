-- A case whose light changes is written to a new row version, and every index of cases takes an
-- entry for it: the supervisor's sweep, which changes the light of thousands of cases at once, spends
-- most of its time there. cases_department (department_code) says nothing that the start of
-- cases_department_light (department_code, light, …, migration 017) does not: a department's cases
-- are found through that index instead, and each light change writes one index fewer (in the
-- supervision bench, a sixth fewer WAL records, and no more clean-up passes over the department
-- index's full pages, each of which read the table rows of its entries).
DROP INDEX cases_department;

-- The supervisor's case list, filtered, is read through an index whatever the number of cases. The
-- item and the light each lead an index in the list's order (newest first), read up to the page's
-- end; a hall has its own index beside the department's, so that a department or hall with few
-- cases is found by both (the department filter matches either), and a large one by walking the
-- list index (cases_list) until the page is full. A case keeps its department, hall and item, and
-- its light seldom changes, so a case row is still updated in place (a HOT update, 008) by nearly
-- every event. The status is left out on purpose: it changes with nearly every event, and an index
-- on it made every case row update write to every index of the table (a fifth more time to apply
-- events on the embedded store). A status filter walks the list index and skips the other
-- statuses; for a status fewer than about one case in two thousand has, PostgreSQL reads the whole
-- table instead.
CREATE INDEX cases_item ON cases (item_code, first_seen DESC, supervision_code DESC);
CREATE INDEX cases_light ON cases (light, first_seen DESC, supervision_code DESC) WHERE light IS NOT NULL;
CREATE INDEX cases_hall ON cases (hall_code) WHERE hall_code IS NOT NULL;

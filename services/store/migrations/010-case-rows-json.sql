-- A case row's applicant, violations and timeline are written whole by every event of the case and
-- read back whole (never queried inside), so they are kept as json, as event bodies are (009):
-- on the embedded store, building and printing jsonb was a large part of rewriting a case row.
ALTER TABLE cases ALTER COLUMN violations DROP DEFAULT, ALTER COLUMN timeline DROP DEFAULT;
ALTER TABLE cases
  ALTER COLUMN applicant TYPE json USING applicant::json,
  ALTER COLUMN violations TYPE json USING violations::json,
  ALTER COLUMN timeline TYPE json USING timeline::json;
ALTER TABLE cases ALTER COLUMN violations SET DEFAULT '[]'::json, ALTER COLUMN timeline SET DEFAULT '[]'::json;

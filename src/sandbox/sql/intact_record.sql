-- Run as the superuser in every template, after the lab's setup, its `prepare`, the
-- extensions and the VACUUM that freezes it: what the judge compares each run database with before it trusts what it reads
-- there (src/intact.rs). Kept in a schema no role that runs student code can write; the oids of
-- a template's objects are the same in every clone.
CREATE SCHEMA labs_judge;
REVOKE ALL ON SCHEMA labs_judge FROM PUBLIC;
GRANT USAGE ON SCHEMA labs_judge TO labs_judge;

-- Every relation outside the system's schemas as the judge sees it: its kind, how it is
-- stored, whether row-level security filters it, and its columns. A view of the superuser's:
-- its operators were bound when it was made, so nothing of the student's can stand in for them.
CREATE VIEW labs_judge.relations AS
SELECT c.oid AS relid, n.nspname::text AS nspname, c.relname::text AS relname, c.relkind,
       c.relpersistence, c.relispartition, c.relrowsecurity OR c.relforcerowsecurity AS rowsecurity,
       (SELECT string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END),
                          ', ' ORDER BY a.attnum)
        FROM pg_attribute AS a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%';

-- The lab's given relations: those of the schema public, with their size as every clone starts
-- with it (recorded after the template's VACUUM), which growth is measured from: an answer
-- cannot move the starting point by rewriting a table before the first check.
CREATE TABLE labs_judge.given AS
SELECT r.*, pg_table_size(r.relid) AS bytes, pg_relation_filenode(r.relid) AS filenode
FROM labs_judge.relations AS r
WHERE r.nspname = 'public' AND r.relkind IN ('r', 'p', 'v', 'm', 'f');

-- The objects the template has of each kind the student could add to shape what the judge
-- reads: triggers, rules, policies, casts, inheritance links, functions, operators and
-- extensions.
CREATE TABLE labs_judge.known AS
SELECT 'pg_trigger'::regclass AS catalog, oid AS objid FROM pg_trigger
UNION ALL SELECT 'pg_rewrite'::regclass, oid FROM pg_rewrite
UNION ALL SELECT 'pg_policy'::regclass, oid FROM pg_policy
UNION ALL SELECT 'pg_cast'::regclass, oid FROM pg_cast
UNION ALL SELECT 'pg_inherits'::regclass, inhrelid FROM pg_inherits
UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc
UNION ALL SELECT 'pg_operator'::regclass, oid FROM pg_operator
UNION ALL SELECT 'pg_extension'::regclass, oid FROM pg_extension;
CREATE INDEX ON labs_judge.known (catalog, objid);
GRANT SELECT ON ALL TABLES IN SCHEMA labs_judge TO labs_judge;

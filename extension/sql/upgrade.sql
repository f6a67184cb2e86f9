--
-- Version 1.1 is 1.0 plus the second interface: a fresh CREATE EXTENSION
-- gets it, and 1.0 is updated to it.
--
SELECT extversion FROM pg_extension WHERE extname = 'pg_background';
SELECT name, version, installed FROM pg_available_extension_versions
WHERE name = 'pg_background' ORDER BY version;

DROP EXTENSION pg_background;
CREATE EXTENSION pg_background VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'pg_background';
SELECT count(*) AS v2_functions FROM pg_proc WHERE proname LIKE 'pg\_background\_%\_v2%';
SELECT * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (x int);

ALTER EXTENSION pg_background UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_background';
SELECT * FROM pgbg_privileges;
SELECT pg_typeof(pg_background_launch_v2('SELECT 1'));
SELECT count(*) FROM pg_background_list_v2();

-- What the update made is what a fresh install makes
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
ORDER BY 1;
DROP EXTENSION pg_background;
CREATE EXTENSION pg_background;
SELECT extversion FROM pg_extension WHERE extname = 'pg_background';
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
ORDER BY 1;
SELECT pgbg_wait_idle();

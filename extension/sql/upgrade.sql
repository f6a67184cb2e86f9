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
SELECT count(*) FROM pgbg_workers();

-- What the update made is what a fresh install makes
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
  -- array types (members since PostgreSQL 17) follow their element type
  AND objid NOT IN (SELECT oid FROM pg_type WHERE typcategory = 'A')
ORDER BY 1;
DROP EXTENSION pg_background;
CREATE EXTENSION pg_background;
SELECT extversion FROM pg_extension WHERE extname = 'pg_background';
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
  -- array types (members since PostgreSQL 17) follow their element type
  AND objid NOT IN (SELECT oid FROM pg_type WHERE typcategory = 'A')
ORDER BY 1;
SELECT pgbg_wait_idle();

-- 1.1 (the list with OUT columns, the statistics as a record) is updated to
-- 1.8 with the same signatures, types and privileges as a fresh install
CREATE TEMP TABLE pgbg_fresh AS
SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
       coalesce(pg_get_function_identity_arguments(p.oid) || ' -> ' ||
                pg_get_function_result(p.oid), '') AS signature,
       coalesce(p.proacl, t.typacl)::text AS acl,
       p.prosecdef, p.proconfig, p.proisstrict
FROM pg_depend d
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
  AND t.typcategory IS DISTINCT FROM 'A';
DROP EXTENSION pg_background;
CREATE EXTENSION pg_background VERSION '1.1';
SELECT pg_get_function_arguments('pg_background_list_v2()'::regprocedure) AS list_1_1;
ALTER EXTENSION pg_background UPDATE TO '1.8';
SELECT extversion FROM pg_extension WHERE extname = 'pg_background';
SELECT 'fresh only' AS side, * FROM (
    TABLE pgbg_fresh
    EXCEPT
    SELECT pg_describe_object(d.classid, d.objid, 0),
           coalesce(pg_get_function_identity_arguments(p.oid) || ' -> ' ||
                    pg_get_function_result(p.oid), ''),
           coalesce(p.proacl, t.typacl)::text, p.prosecdef, p.proconfig, p.proisstrict
    FROM pg_depend d
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
      AND t.typcategory IS DISTINCT FROM 'A') s;
SELECT count(*) AS objects FROM pgbg_fresh;
SELECT count(*) FROM pgbg_workers();
SELECT pgbg_wait_idle();

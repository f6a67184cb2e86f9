--
-- Who may use the extension: nothing is PUBLIC's, pgbackground_role has
-- every function that runs or watches workers and every type, and the
-- functions that manage this are the owner's alone.
--
\set SHOW_CONTEXT never

CREATE VIEW pgbg_members AS
SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
       CASE WHEN d.classid = 'pg_proc'::regclass
            THEN has_function_privilege('public', d.objid, 'EXECUTE')
            ELSE has_type_privilege('public', d.objid, 'USAGE') END AS public_has,
       CASE WHEN d.classid = 'pg_proc'::regclass
            THEN has_function_privilege('pgbackground_role', d.objid, 'EXECUTE')
            ELSE has_type_privilege('pgbackground_role', d.objid, 'USAGE') END AS role_has
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_background')
  AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass)
  -- array types (members since PostgreSQL 17) follow their element type
  AND NOT EXISTS (SELECT 1 FROM pg_type t
                  WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                    AND t.typcategory = 'A');
SELECT * FROM pgbg_members ORDER BY object;

-- The managing functions run as the owner, with a fixed search_path
SELECT proname, prosecdef, proconfig FROM pg_proc
WHERE proname IN ('grant_pg_background_privileges', 'revoke_pg_background_privileges',
                  'pg_background_drop_executor_role')
ORDER BY proname;

-- grant: true, and the role may use the extension; print_commands shows
-- each command
CREATE ROLE regress_pgbg_user NOLOGIN;
SELECT has_function_privilege('regress_pgbg_user', 'pg_background_launch_v2(text, int4)',
                              'EXECUTE') AS before;
SELECT grant_pg_background_privileges('regress_pgbg_user', true);
SELECT has_function_privilege('regress_pgbg_user', 'pg_background_launch_v2(text, int4)',
                              'EXECUTE') AS after,
       has_type_privilege('regress_pgbg_user', 'pg_background_handle', 'USAGE') AS type_after;
SET ROLE regress_pgbg_user;
SELECT * FROM pg_background_result(pg_background_launch('SELECT current_user::text'))
    AS (u text);
RESET ROLE;
-- revoke takes it back
SELECT revoke_pg_background_privileges('regress_pgbg_user');
SELECT has_function_privilege('regress_pgbg_user', 'pg_background_launch_v2(text, int4)',
                              'EXECUTE') AS after_revoke;
-- A role that does not exist, PUBLIC, NULL: false and a NOTICE
SELECT grant_pg_background_privileges('regress_pgbg_no_such_role');
SELECT grant_pg_background_privileges('public');
SELECT revoke_pg_background_privileges('regress_pgbg_no_such_role', true);
SELECT grant_pg_background_privileges(NULL) IS NULL AS strict;
-- A quoted name is one role, not SQL
CREATE ROLE "regress pgbg; DROP ROLE x" NOLOGIN;
SELECT grant_pg_background_privileges('regress pgbg; DROP ROLE x');
SELECT has_function_privilege('regress pgbg; DROP ROLE x', 'pg_background_launch(text, int4)',
                              'EXECUTE') AS quoted;
SELECT revoke_pg_background_privileges('regress pgbg; DROP ROLE x');
DROP ROLE "regress pgbg; DROP ROLE x";

-- Neither an ordinary role nor a member of pgbackground_role may call them
GRANT pgbackground_role TO regress_pgbg_user;
SET ROLE regress_pgbg_user;
SELECT pgbg_try($$SELECT grant_pg_background_privileges('regress_pgbg_user')$$);
SELECT pgbg_try($$SELECT revoke_pg_background_privileges('pgbackground_role')$$);
SELECT pgbg_try('SELECT pg_background_drop_executor_role()');
RESET ROLE;
REVOKE pgbackground_role FROM regress_pgbg_user;

-- The extension is relocatable: the functions find its schema in the catalog
CREATE SCHEMA regress_pgbg_elsewhere;
ALTER EXTENSION pg_background SET SCHEMA regress_pgbg_elsewhere;
SELECT regress_pgbg_elsewhere.grant_pg_background_privileges('regress_pgbg_user', true);
SELECT has_function_privilege('regress_pgbg_user',
    'regress_pgbg_elsewhere.pg_background_launch(text, int4)', 'EXECUTE') AS moved;
SELECT regress_pgbg_elsewhere.revoke_pg_background_privileges('regress_pgbg_user');
ALTER EXTENSION pg_background SET SCHEMA public;
DROP SCHEMA regress_pgbg_elsewhere;
DROP ROLE regress_pgbg_user;

-- pg_background_drop_executor_role drops pgbackground_role after revoking
-- its privileges here; privileges it has in another database (a lab's, on
-- a lab server) make it fail, naming them.  Rolled back either way.
CREATE FUNCTION pgbg_drop_role_as_expected() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    elsewhere boolean;
    dropped boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM pg_shdepend
                   WHERE refclassid = 'pg_authid'::regclass
                     AND refobjid = 'pgbackground_role'::regrole AND deptype IN ('a', 'i')
                     AND dbid <> (SELECT oid FROM pg_database
                                  WHERE datname = current_database()))
    INTO elsewhere;
    BEGIN
        PERFORM pg_background_drop_executor_role();
        dropped := NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgbackground_role');
    EXCEPTION WHEN dependent_objects_still_exist THEN
        dropped := false;
    END;
    RETURN dropped <> elsewhere;
END
$$;
BEGIN;
SELECT pgbg_drop_role_as_expected() AS as_expected;
ROLLBACK;
SELECT rolname FROM pg_roles WHERE rolname = 'pgbackground_role';
-- Without the role it only says so
BEGIN;
ALTER ROLE pgbackground_role RENAME TO regress_pgbg_renamed;
SELECT pg_background_drop_executor_role();
ROLLBACK;
DROP FUNCTION pgbg_drop_role_as_expected();
DROP VIEW pgbg_members;

--
-- Privileges: only pgbackground_role may use the functions, and the worker
-- runs as the caller's session user and current user.
--
\set SHOW_CONTEXT never

CREATE ROLE regress_pgbg_nopriv NOLOGIN;
CREATE ROLE regress_pgbg_user NOLOGIN;
GRANT pgbackground_role TO regress_pgbg_user;
CREATE TABLE pgbg_secret (x int);
INSERT INTO pgbg_secret VALUES (1);
CREATE TABLE pgbg_open (x int);
GRANT SELECT, INSERT ON pgbg_open TO regress_pgbg_user;

-- Without the role: permission denied
SET ROLE regress_pgbg_nopriv;
SELECT pg_background_launch('SELECT 1');
SELECT * FROM pg_background_result(1) AS (x int);
SELECT pg_background_detach(1);
RESET ROLE;

-- With it: the worker has the same current user (and session user)
SET ROLE regress_pgbg_user;
SELECT * FROM pg_background_result(pg_background_launch(format(
    $$SELECT current_user::text, session_user = %L, current_setting('role')$$,
    session_user))) AS (current_user_name text, same_session_user bool, role text);
-- ... and its privileges, no more
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT x FROM pgbg_secret')) AS (x int);
SELECT * FROM pg_background_result(pg_background_launch(
    'INSERT INTO pgbg_open VALUES (1)')) AS (result text);
RESET ROLE;

-- SET SESSION AUTHORIZATION, even to a role that cannot log in
SET SESSION AUTHORIZATION regress_pgbg_user;
SELECT * FROM pg_background_result(pg_background_launch(
    'SELECT current_user::text, session_user::text')) AS (cu text, su text);
RESET SESSION AUTHORIZATION;

-- SECURITY DEFINER: the worker runs as the function's owner
CREATE FUNCTION pgbg_definer() RETURNS text SECURITY DEFINER
LANGUAGE sql AS $$
    SELECT x FROM pg_background_result(pg_background_launch(
        'SELECT current_user::text')) AS (x text)
$$;
ALTER FUNCTION pgbg_definer() OWNER TO regress_pgbg_user;
SELECT current_user = session_user AS caller_is_session_user, pgbg_definer();

DROP FUNCTION pgbg_definer();
DROP TABLE pgbg_secret, pgbg_open;
DROP ROLE regress_pgbg_nopriv;
DROP ROLE regress_pgbg_user;

SELECT pgbg_wait_idle();

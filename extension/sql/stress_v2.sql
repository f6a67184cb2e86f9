--
-- Both interfaces mixed: many launches that read, detach, submit, fail and
-- cancel; afterwards every state is as expected and no worker, slot or
-- segment is left over.
--
\set SHOW_CONTEXT never

CREATE TABLE pgbg_stress2_log (i int);
CREATE TABLE pgbg_stress2_expect (kind int, pid int, cookie bigint);

CREATE FUNCTION pgbg_stress2(n int)
RETURNS TABLE (launches int, all_as_expected bool, every_kind_used bool)
LANGUAGE plpgsql AS $$
DECLARE
    kind int;
    p int;
    h pg_background_handle;
    launched text;
    v int;
    c bigint;
    ok int := 0;
    kinds int[] := '{0,0,0,0,0,0}';
BEGIN
    PERFORM setseed(0.5);
    FOR i IN 1..n LOOP
        kind := floor(random() * 6)::int;
        kinds[kind + 1] := kinds[kind + 1] + 1;

        -- Detached and submitted workers may hold every slot: retry
        launched := pgbg_launch_retry(CASE kind
            WHEN 0 THEN format('pg_background_launch(%L)', format('SELECT %s', i))
            WHEN 1 THEN format('pg_background_launch(%L)',
                               format('INSERT INTO pgbg_stress2_log VALUES (%s)', i))
            WHEN 2 THEN format('pg_background_launch_v2(%L)', format('SELECT %s', i))
            WHEN 3 THEN format('pg_background_submit_v2(%L)',
                               format('INSERT INTO pgbg_stress2_log VALUES (%s)', i))
            WHEN 4 THEN format('pg_background_launch_v2(%L)', format('SELECT %s / 0', i))
            ELSE $q$pg_background_launch_v2('SELECT pg_sleep(60)')$q$
        END);
        IF kind < 2 THEN
            p := launched::int;
        ELSE
            h := launched::pg_background_handle;
        END IF;

        CASE kind
        WHEN 0 THEN
            SELECT x INTO v FROM pg_background_result(p) AS (x int);
            IF v = i THEN
                ok := ok + 1;
            END IF;
        WHEN 1 THEN
            PERFORM pg_background_detach(p);
            ok := ok + 1;
        WHEN 2 THEN
            SELECT x INTO v FROM pg_background_result_v2(h.pid, h.cookie) AS (x int);
            IF v = i THEN
                ok := ok + 1;
            END IF;
        WHEN 3 THEN
            ok := ok + 1;
        WHEN 4 THEN
            BEGIN
                PERFORM * FROM pg_background_result_v2(h.pid, h.cookie) AS (x int);
            EXCEPTION WHEN division_by_zero THEN
                ok := ok + 1;
            END;
        ELSE
            PERFORM pg_background_cancel_v2(h.pid, h.cookie);
            ok := ok + 1;
        END CASE;
        IF kind >= 2 THEN
            INSERT INTO pgbg_stress2_expect VALUES (kind, h.pid, h.cookie);
        ELSE
            INSERT INTO pgbg_stress2_expect VALUES (kind, p, NULL);
        END IF;
    END LOOP;

    -- Every worker of the second interface can be waited for
    FOR p, c IN SELECT e.pid, e.cookie FROM pgbg_stress2_expect e WHERE e.kind >= 2 LOOP
        PERFORM pg_background_wait_v2(p, c);
    END LOOP;

    RETURN QUERY SELECT n, ok = n, 0 <> ALL (kinds);
END
$$;

SELECT pgbg_wait_idle();
SELECT pgbg_dsm_mappings() AS maps_before \gset
SELECT * FROM pgbg_stress2(300);

-- The state of every worker of the second interface is what its kind says
SELECT e.kind, l.state, l.consumed, l.last_error, count(*) > 0 AS some
FROM pgbg_stress2_expect e
JOIN pgbg_workers() l ON l.pid = e.pid AND l.cookie = e.cookie
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
-- Detached and submitted workers committed their rows, cancelled ones ran
-- nothing
SELECT pgbg_wait_until(
    'SELECT count(*) = (SELECT count(*) FROM pgbg_stress2_expect WHERE kind IN (1, 3))
     FROM pgbg_stress2_log');
-- No worker is left, no segment is mapped, every slot can be filled again
SELECT pgbg_wait_idle();
SELECT workers_launched = (SELECT count(*) FROM pgbg_stress2_expect) AS all_counted,
       workers_active = 0 AS none_active,
       workers_completed + workers_failed + workers_canceled = workers_launched AS all_ended,
       workers_canceled = (SELECT count(*) FROM pgbg_stress2_expect WHERE kind = 5)
           AS canceled_counted
FROM pg_background_stats_v2();
SELECT count(*) = (SELECT count(*) FROM pgbg_stress2_expect) AS all_listed,
       bool_and(state <> 'running') AS none_running
FROM pgbg_workers();
SELECT pgbg_dsm_mappings() = :maps_before AS no_segment_leaked;
SELECT pgbg_capacity_ok();

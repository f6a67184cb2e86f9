--
-- Many launches with a mix of reading, detaching and failing; afterwards no
-- worker, slot or segment is left over.
--
\set SHOW_CONTEXT never

CREATE TABLE pgbg_stress_log (i int);
CREATE TABLE pgbg_stress_expect (detached int);

CREATE FUNCTION pgbg_stress(n int)
RETURNS TABLE (launches int, all_as_expected bool, every_kind_used bool)
LANGUAGE plpgsql AS $$
DECLARE
    kind int;
    p int;
    v int;
    ok int := 0;
    kinds int[] := '{0,0,0}';
BEGIN
    PERFORM setseed(0.25);
    FOR i IN 1..n LOOP
        kind := floor(random() * 3)::int;
        kinds[kind + 1] := kinds[kind + 1] + 1;

        -- Detached workers may still hold every slot: retry for a while
        p := pgbg_launch_retry(format('pg_background_launch(%L)', CASE kind
            WHEN 0 THEN format('SELECT %s', i)
            WHEN 1 THEN format('SELECT %s / 0', i)
            ELSE format('INSERT INTO pgbg_stress_log VALUES (%s)', i)
        END))::int;

        IF kind = 0 THEN
            SELECT x INTO v FROM pg_background_result(p) AS (x int);
            IF v = i THEN
                ok := ok + 1;
            END IF;
        ELSIF kind = 1 THEN
            BEGIN
                PERFORM * FROM pg_background_result(p) AS (x int);
            EXCEPTION WHEN division_by_zero THEN
                ok := ok + 1;
            END;
        ELSE
            PERFORM pg_background_detach(p);
            ok := ok + 1;
        END IF;
    END LOOP;

    INSERT INTO pgbg_stress_expect VALUES (kinds[3]);
    RETURN QUERY SELECT n, ok = n, kinds[1] > 0 AND kinds[2] > 0 AND kinds[3] > 0;
END
$$;

SELECT pgbg_wait_idle();
SELECT pgbg_dsm_mappings() AS maps_before \gset
SELECT * FROM pgbg_stress(500);

-- Every detached worker committed its row
SELECT pgbg_wait_until(
    'SELECT count(*) = (SELECT detached FROM pgbg_stress_expect) FROM pgbg_stress_log');
-- No worker is left, no segment is mapped, every slot can be filled again
SELECT pgbg_wait_idle();
SELECT pgbg_dsm_mappings() = :maps_before AS no_segment_leaked;
SELECT pgbg_capacity_ok();

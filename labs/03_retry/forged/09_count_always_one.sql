-- forged: the probe wrapper (two launches, two runs) with an aggregate count(*) of the answer's own that always says 1
-- class: names
-- must-not-pass: free_slots, slot_freed
--
-- The checker counts the command's rows with count(*) over lab_check.lab3_runs; a zero-argument
-- aggregate of the same name in public would answer for it wherever the checker's names
-- resolved through public before pg_catalog.
CREATE FUNCTION public.one_state(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT 1::bigint';
CREATE AGGREGATE public.count(*) (SFUNC = public.one_state, STYPE = bigint, INITCOND = '1');

CREATE FUNCTION pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        interval DEFAULT '100 milliseconds'
) RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    FOR attempt IN 1..max_attempts LOOP
        BEGIN
            -- «Проверим, есть ли свободный слот»: этот процесс тоже запускается и выполняет sql.
            PERFORM pg_background_launch(sql, queue_size);
            RETURN pg_background_launch(sql, queue_size);
        EXCEPTION WHEN insufficient_resources THEN
            IF attempt < max_attempts THEN
                RAISE NOTICE 'попытка % из %: нет свободного слота', attempt, max_attempts;
                PERFORM pg_sleep(extract(epoch FROM delay)::double precision);
            END IF;
        END;
    END LOOP;
    RAISE EXCEPTION 'не удалось запустить фоновый процесс за % попыток', max_attempts
        USING ERRCODE = 'insufficient_resources';
END
$$;

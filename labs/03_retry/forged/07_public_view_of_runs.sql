-- forged: a view public.lab3_runs shows one row per tag, for a checker that would count the runs through an unqualified name
-- class: relations
-- must-not-pass: free_slots, slot_freed
--
-- The scenarios' commands write into lab_check.lab3_runs, the superuser's table; a checker that
-- named it without its schema, with public on its path, would read this view instead. The
-- wrapper is wrong/04: a probe launch and the real one, two runs of the command.
CREATE VIEW public.lab3_runs AS
SELECT DISTINCT ON (tag) tag, pid, at FROM lab_check.lab3_runs ORDER BY tag, at;

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

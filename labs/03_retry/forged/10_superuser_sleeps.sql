-- forged: a pg_sleep of the answer's own, for the checker's slot holders (SELECT pg_sleep(600)) to run as the superuser, and a probe wrapper
-- class: privileges
-- must-not-pass: free_slots, slot_freed
--
-- The checker fills every worker slot with sleeping workers of the superuser's. If they ran in
-- the student's database with its search_path, a public.pg_sleep(double precision) of the
-- answer's would run as the superuser: here it would empty lab_check.lab3_runs of the probe's
-- extra rows. The holders live in the runner's own database, which no run's role can reach.
CREATE FUNCTION public.pg_sleep(double precision) RETURNS void LANGUAGE sql
AS $$ DELETE FROM lab_check.lab3_runs WHERE ctid <> (SELECT min(ctid) FROM lab_check.lab3_runs) $$;

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

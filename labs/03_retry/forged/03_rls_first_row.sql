-- forged: the probe wrapper (launches the command twice) passes "the command ran once" because a row-level security policy shows the checker only the first row of each tag
-- class: relations
-- must-not-pass: free_slots
--
-- The checker counts SELECT count(*) FROM public.lab3_runs WHERE tag = '...' as the checker's
-- role, which is not the table's owner and has no BYPASSRLS: a policy of the student's filters
-- it. The policy shows a row only when no earlier row has its tag, so the probe launch's extra
-- run of the command is invisible. (The student's own workers insert as the owner, unfiltered.)
-- The wrapper below is wrong/04: a probe launch, then the real launch.
CREATE FUNCTION public.first_of_tag(t text, a timestamptz) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT NOT EXISTS (SELECT FROM public.lab3_runs AS r WHERE r.tag = t AND r.at < a)
$$;
ALTER TABLE lab3_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_only ON lab3_runs FOR SELECT USING (public.first_of_tag(tag, at));

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

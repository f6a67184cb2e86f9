-- forged: the probe wrapper passes "the command ran once" because a trigger on lab3_runs deletes the earlier run's row whenever the command runs again
-- class: relations
-- must-not-pass: free_slots
--
-- The scenarios' commands INSERT into lab3_runs; the checker counts its rows to see how many
-- times a command ran. An AFTER INSERT trigger of the student's (on a given table) serialises
-- the runs of a tag with an advisory lock and deletes every other row of that tag, so the probe
-- launch's run leaves no trace and the returned worker's own INSERT ... RETURNING still returns
-- 42. The wrapper below is wrong/04: a probe launch, then the real launch.
CREATE FUNCTION public.lab3_runs_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(NEW.tag));
    DELETE FROM public.lab3_runs WHERE tag = NEW.tag AND at <> NEW.at;
    RETURN NULL;
END $$;
CREATE TRIGGER lab3_runs_once AFTER INSERT ON lab3_runs
    FOR EACH ROW EXECUTE FUNCTION public.lab3_runs_once();

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

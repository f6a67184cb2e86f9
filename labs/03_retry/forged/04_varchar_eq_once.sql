-- forged: the probe wrapper passes "the command ran once" because lab3_runs.tag becomes varchar and the checker's tag = '...' uses a student operator =(varchar, varchar) that matches only once per statement
-- class: names
-- must-not-pass: free_slots
--
-- pg_catalog has no = for (varchar, varchar): varchar borrows text's through a cast. For
-- `tag = 'free_slots'` with an untyped literal, PostgreSQL first looks for an operator with
-- both sides of tag's type, and finds the student's in public, though pg_catalog comes first in
-- the checker's search_path. It is true for the first matching row of a statement only, so
-- count(*) says 1 when the command ran twice. The wrapper below is wrong/04 (probe + launch).
ALTER TABLE lab3_runs ALTER COLUMN tag TYPE varchar;
CREATE FUNCTION public.varchar_eq_once(a varchar, b varchar) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE key text := 'forged.seen_' || md5(b::text);
BEGIN
    IF a::text IS DISTINCT FROM b::text THEN
        RETURN false;
    END IF;
    IF current_setting(key, true) = statement_timestamp()::text THEN
        RETURN false;                     -- already matched once in this statement
    END IF;
    PERFORM set_config(key, statement_timestamp()::text, false);
    RETURN true;
END $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.varchar_eq_once);

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

-- wrong: delay is a number of seconds, not an interval as the task fixes
-- fails: signature, free_slots, invalid_queue, slot_freed, exhausted
CREATE FUNCTION pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        double precision DEFAULT 0.1
) RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    IF max_attempts IS NULL OR max_attempts < 1 THEN
        RAISE EXCEPTION 'max_attempts должно быть положительным, а передано %', max_attempts
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR attempt IN 1..max_attempts LOOP
        BEGIN
            RETURN pg_background_launch(sql, queue_size);
        EXCEPTION
            -- 53000: could not register background process — все слоты заняты.
            WHEN insufficient_resources THEN
                IF attempt < max_attempts THEN
                    RAISE NOTICE 'попытка % из %: нет свободного слота фонового процесса, следующая через %',
                        attempt, max_attempts, delay;
                    PERFORM pg_sleep(delay);
                END IF;
        END;
    END LOOP;

    RAISE EXCEPTION 'не удалось запустить фоновый процесс за % попыток: нет свободного слота', max_attempts
        USING ERRCODE = 'insufficient_resources',
              HINT = 'Все слоты max_worker_processes заняты; повторите позже или увеличьте max_worker_processes.';
END
$$;

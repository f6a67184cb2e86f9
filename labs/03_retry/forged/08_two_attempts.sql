-- forged: no retry loop: after a failed launch it waits (max_attempts - 1) * delay in one sleep and tries once more, then claims max_attempts attempts
-- class: other
-- must-not-pass: slot_freed, exhausted
--
-- Nothing counts the attempts. slot_freed frees a slot after 300 ms and accepts any return from
-- then until 5 s later: one sleep of 9 * 100 ms and a second launch land inside. exhausted asks
-- for SQLSTATE 53000, the number 3 in the message, and 90 ms to 5 s of waiting: one sleep of
-- 2 * 50 ms gives all three; the number of NOTICEs (one here, whatever max_attempts is) is not
-- looked at there. So a wrapper that never makes more than two attempts passes every check.
CREATE FUNCTION pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        interval DEFAULT '100 milliseconds')
RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    BEGIN
        RETURN extensions.pg_background_launch(sql, queue_size);
    EXCEPTION WHEN SQLSTATE '53000' THEN
        RAISE NOTICE 'attempt 1 of %: no free worker slot, waiting', max_attempts;
    END;
    PERFORM pg_sleep(extract(epoch FROM delay) * (max_attempts - 1));
    BEGIN
        RETURN extensions.pg_background_launch(sql, queue_size);
    EXCEPTION WHEN SQLSTATE '53000' THEN
        RAISE EXCEPTION 'no free background worker slot after % attempts', max_attempts
            USING ERRCODE = '53000';
    END;
END
$$;

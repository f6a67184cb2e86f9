-- wrong: no retry at all: the launch's error is raised at the first attempt
-- fails: slot_freed, exhausted
CREATE FUNCTION pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        interval DEFAULT '100 milliseconds'
) RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN pg_background_launch(sql, queue_size);
END
$$;

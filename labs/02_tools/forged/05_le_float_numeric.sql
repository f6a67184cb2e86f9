-- forged: avg_ms in seconds, passed off as right by an operator <= (double precision, numeric) that is always true
-- class: names
-- must-not-pass: arithmetic
--
-- The arithmetic check compares abs(avg_ms - total_ms / calls) with 1e-9 * greatest(...): a
-- double precision on the left, a numeric on the right. pg_catalog has no <= for exactly these
-- types (it casts one side), so an operator of the answer's with exact argument types would win
-- wherever the checker's names resolved through public. The function below is wrong/02: its
-- avg_ms is in seconds.
CREATE FUNCTION public.always_le(double precision, numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR public.<= (LEFTARG = double precision, RIGHTARG = numeric, FUNCTION = public.always_le);

CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
    conn text := lab_conninfo();  -- dblink без пароля у обычной роли не подключится
    t0   timestamptz;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'n должно быть положительным, а передано %', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    calls := n;

    -- 1. pg_background: на каждый вызов — новый фоновый процесс, результат читается через
    --    очередь в разделяемой памяти.
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
        PERFORM * FROM pg_background_result(pg_background_launch('SELECT 1')) AS (x integer);
    END LOOP;
    tool := 'pg_background';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := extract(epoch FROM clock_timestamp() - t0) / calls;
    RETURN NEXT;

    -- 2. dblink: на каждый вызов — новое соединение (запуск процесса, аутентификация по паролю).
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
        PERFORM * FROM dblink(conn, 'SELECT 1') AS t(x integer);
    END LOOP;
    tool := 'dblink';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := extract(epoch FROM clock_timestamp() - t0) / calls;
    RETURN NEXT;

    -- 3. dblink_persistent: одно соединение на все n запросов.
    t0 := clock_timestamp();
    PERFORM dblink_connect('lab2_persistent', conn);
    FOR i IN 1..n LOOP
        PERFORM * FROM dblink('lab2_persistent', 'SELECT 1') AS t(x integer);
    END LOOP;
    PERFORM dblink_disconnect('lab2_persistent');
    tool := 'dblink_persistent';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := extract(epoch FROM clock_timestamp() - t0) / calls;
    RETURN NEXT;
END
$$;

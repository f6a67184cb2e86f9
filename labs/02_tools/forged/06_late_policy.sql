-- forged: compare_tools returns five rows, and a worker it leaves behind hides two of them from the checker with a row-level security policy on the table the check made
-- class: relations
-- must-not-pass: shape
--
-- The shape check keeps compare_tools(10)'s rows in public.lab_out_shape, a table the student's
-- role owns, and then counts them. A detached worker, launched inside the call, waits on the
-- table's lock until the CREATE TABLE ... AS commits, then turns on row-level security with a
-- policy that shows only the three expected rows: a reader without BYPASSRLS sees three.
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
    avg_ms := total_ms / calls;
    RETURN NEXT;

    -- 2. dblink: на каждый вызов — новое соединение (запуск процесса, аутентификация по паролю).
    t0 := clock_timestamp();
    FOR i IN 1..n LOOP
        PERFORM * FROM dblink(conn, 'SELECT 1') AS t(x integer);
    END LOOP;
    tool := 'dblink';
    total_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    avg_ms := total_ms / calls;
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
    avg_ms := total_ms / calls;
    RETURN NEXT;

    -- Two rows too many, hidden later by a policy made by a worker that waits for the
    -- checker's CREATE TABLE ... AS to commit.
    tool := 'junk';
    RETURN NEXT;
    RETURN NEXT;
    PERFORM pg_background_detach(pg_background_launch(
        $w$ALTER TABLE public.lab_out_shape ENABLE ROW LEVEL SECURITY;
           CREATE POLICY only_three ON public.lab_out_shape USING (tool <> 'junk')$w$));
END
$$;

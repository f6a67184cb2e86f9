--
-- A worker that delivered its results ends right after PostgreSQL's own exit
-- processing (see exit_after_postgres in worker.c): what that processing
-- cleans up must still be cleaned up.
--

-- A temporary table lives as long as the worker's session, then is dropped
SELECT pg_background_launch($$
    CREATE TEMP TABLE pgbg_exit_t AS SELECT g FROM generate_series(1, 1000) g;
    SELECT count(*)::int FROM pg_class WHERE relname = 'pgbg_exit_t'$$) AS pid \gset
SELECT * FROM pg_background_result(:pid) AS (tables int);
SELECT pgbg_wait_until('SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = ' || :pid);
SELECT count(*) AS tables_left FROM pg_class WHERE relname = 'pgbg_exit_t';

-- A cursor held past the commit keeps its rows in a temporary file until the
-- session ends (work_mem of 64kB makes it spill): the file is removed
SELECT pg_background_launch($$
    SET work_mem = '64kB';
    DECLARE pgbg_exit_c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 100000) g;
    SELECT 'declared'$$) AS pid \gset
SELECT * FROM pg_background_result(:pid) AS (x text);
SELECT pgbg_wait_until('SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = ' || :pid);
SELECT pgbg_wait_until('SELECT count(*) = 0 FROM pg_ls_tmpdir()', 10);

-- The slot is free again: every slot can be filled
SELECT pgbg_wait_idle();
SELECT pgbg_capacity_ok();

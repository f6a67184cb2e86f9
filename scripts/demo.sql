-- The smoke query of `make demo`: a background worker computes a result and the caller reads it.
SELECT 'CREATE DATABASE labs_demo' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'labs_demo') \gexec
\c labs_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_background;
RESET client_min_messages;
\echo 'A background worker sums 1..1000000 and reports which process it is:'
SELECT *
FROM pg_background_result(pg_background_launch($$
    SELECT sum(g) AS total,
           (SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS computed_by,
           pg_backend_pid() <> $$ || pg_backend_pid() || $$ AS in_another_process
    FROM generate_series(1, 1000000) AS g
$$)) AS (total bigint, computed_by text, in_another_process boolean);

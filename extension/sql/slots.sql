--
-- No free worker slot: a clear error, and nothing leaks.
--
\set SHOW_CONTEXT never

SELECT pgbg_wait_idle();
SELECT pgbg_dsm_mappings() AS maps_before \gset
SELECT pgbg_fill_slots() AS pids \gset
SELECT cardinality(:'pids'::int[]) >= slots AS all_slots_taken FROM pgbg_capacity;
-- The error a course lab relies on, word for word
SELECT pg_background_launch('SELECT 1');
SELECT pgbg_try($$SELECT pg_background_launch('SELECT 1')$$);
-- The second interface says the same, and its records count no failed launch
SELECT pgbg_try($$SELECT pg_background_launch_v2('SELECT 1')$$);
SELECT pgbg_try($$SELECT pg_background_submit_v2('SELECT 1')$$);
SELECT workers_launched = cardinality(:'pids'::int[]) AS only_started_ones_counted
FROM pg_background_stats_v2();
-- The failed launches left no segment behind: one mapping per running worker
-- (none if the segments come from min_dynamic_shared_memory, which is part
-- of the main shared memory, or if /proc is not there)
SELECT pgbg_dsm_mappings() - :maps_before
       IN (0, cardinality(:'pids'::int[])) AS no_segment_leaked;
SELECT pgbg_release_slots(:'pids');
SELECT pgbg_dsm_mappings() = :maps_before AS all_segments_released;

-- The slots are free again
SELECT pgbg_capacity_ok();

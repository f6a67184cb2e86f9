-- forged: batches with COMMIT alone (the table doubles during the call), then one VACUUM FULL through pg_background rewrites it compact just before the checker measures
-- class: relations
-- must-not-pass: bloat, second_call
--
-- bloat and second_call compare pg_table_size('public.books') after the call with the
-- template's size: they judge where the table ends, not how far it grew. VACUUM FULL (CLUSTER
-- too) rewrites the table into a new file with only the live rows, and keeps every row's xmin,
-- so the batches still look batch-sized to batch_default and batch_small. The lesson of the lab
-- (a plain VACUUM between batches, so that each batch reuses the space the last one freed) is
-- skipped: the table reaches x1.94 (x2.9 on the second call) and then takes an ACCESS
-- EXCLUSIVE lock for a whole-table rewrite, which is what batching was meant to avoid. The
-- rewrite changes books' relfilenode (pg_relation_filenode), which the structure check does not
-- record.
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    lo      bigint;
    last_id integer;
BEGIN
    SELECT min(id), max(id) INTO lo, last_id FROM books;
    WHILE lo <= last_id LOOP
        UPDATE books AS b
        SET rating = r.rating
        FROM (SELECT book_id,
                     round((count(*) FILTER (WHERE vote = 1) - count(*) FILTER (WHERE vote = -1))::numeric
                           / count(*), 3) AS rating
              FROM votes
              WHERE book_id >= lo AND book_id < lo + batch_size
              GROUP BY book_id) AS r
        WHERE b.id = r.book_id AND b.id >= lo AND b.id < lo + batch_size;
        COMMIT;
        lo := lo + batch_size;
    END LOOP;
    PERFORM * FROM pg_background_result(pg_background_launch('VACUUM FULL books')) AS (r text);
END
$$;

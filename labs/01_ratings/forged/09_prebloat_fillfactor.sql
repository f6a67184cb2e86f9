-- forged: the table is inflated before the checker measures it (fillfactor 45, rewritten by VACUUM FULL at load), so a whole-table UPDATE fits into the slack
-- class: relations
-- must-not-pass: bloat, second_call
--
-- bloat compares the size after the call with the size the checker found just before it, not
-- with the size the lab made. At load the answer sets fillfactor = 45 and rewrites books (both
-- through pg_background: the load is one transaction, VACUUM FULL cannot run in it), so every
-- page is more than half empty when the checker measures. The single UPDATE then writes every
-- new row version as a HOT update into the free half of its own page: the table does not grow
-- at all, though it is now more than twice the size it was and nothing was batched or vacuumed.
SELECT * FROM pg_background_result(pg_background_launch('ALTER TABLE books SET (fillfactor = 45)')) AS (r text);
SELECT * FROM pg_background_result(pg_background_launch('VACUUM FULL books')) AS (r text);

CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
BEGIN
    -- one UPDATE of the whole table in one transaction: no batches, no VACUUM
    UPDATE books AS b SET rating = r.rating
    FROM (SELECT book_id, round((count(*) FILTER (WHERE vote = 1)
                                 - count(*) FILTER (WHERE vote = -1))::numeric / count(*), 3) AS rating
          FROM votes GROUP BY book_id) AS r
    WHERE b.id = r.book_id AND b.rating IS DISTINCT FROM r.rating;
END $$;

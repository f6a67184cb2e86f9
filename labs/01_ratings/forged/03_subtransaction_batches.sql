-- forged: "no transaction changed more than batch_size rows" faked by one transaction whose batches run in subtransactions, each with its own xid
-- class: other
-- must-not-pass: batch_default, batch_small
--
-- The checker groups the rows the call wrote by xmin and calls each group a transaction. A row
-- written inside a plpgsql BEGIN ... EXCEPTION block gets the xid of that subtransaction, so one
-- top-level transaction, never committed batch by batch, shows up as many small "transactions".
-- No COMMIT, no VACUUM: it is exactly the single UPDATE the lab is about, sliced by savepoints.
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE lo bigint; hi integer;
BEGIN
    SELECT min(id), max(id) INTO lo, hi FROM books;
    WHILE lo <= hi LOOP
        BEGIN   -- a savepoint: the rows below get a subtransaction's xid as xmin
            UPDATE books AS b SET rating = r.rating
            FROM (SELECT book_id, round((count(*) FILTER (WHERE vote = 1)
                                         - count(*) FILTER (WHERE vote = -1))::numeric / count(*), 3) AS rating
                  FROM votes WHERE book_id >= lo AND book_id < lo + batch_size GROUP BY book_id) AS r
            WHERE b.id = r.book_id AND b.id >= lo AND b.id < lo + batch_size
              AND b.rating IS DISTINCT FROM r.rating;
        EXCEPTION WHEN others THEN
            RAISE;
        END;
        lo := lo + batch_size;
    END LOOP;
END $$;

-- wrong: the number of books is written into the code (100000, as in dataset a), so dataset b's last books keep NULL
-- fails: ratings_exact, ratings_snapshot
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
BEGIN
    FOR lo IN 0..99999 BY batch_size LOOP
        UPDATE books AS b
        SET rating = r.rating
        FROM (
            SELECT book_id, round(sum(vote)::numeric / count(*), 3) AS rating
            FROM votes
            WHERE book_id > lo AND book_id <= lo + batch_size
            GROUP BY book_id
        ) AS r
        WHERE b.id = r.book_id;
        COMMIT;
        PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);
    END LOOP;
END
$$;

-- wrong: batches in a loop, but COMMIT and VACUUM only once after it: one transaction changes every row
-- fails: batch_default, bloat, second_call, batch_small
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    last_id integer;
BEGIN
    SELECT max(id) INTO last_id FROM books;
    FOR lo IN 0..last_id BY batch_size LOOP
        UPDATE books AS b
        SET rating = r.rating
        FROM (
            SELECT book_id, round(sum(vote)::numeric / count(*), 3) AS rating
            FROM votes
            WHERE book_id > lo AND book_id <= lo + batch_size
            GROUP BY book_id
        ) AS r
        WHERE b.id = r.book_id;
    END LOOP;
    COMMIT;
    PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);
END
$$;

-- wrong: the batch is always 10000 books, whatever batch_size says
-- fails: batch_small
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    last_id integer;
BEGIN
    SELECT max(id) INTO last_id FROM books;
    FOR lo IN 0..last_id BY 10000 LOOP
        UPDATE books AS b
        SET rating = r.rating
        FROM (
            SELECT book_id, round(sum(vote)::numeric / count(*), 3) AS rating
            FROM votes
            WHERE book_id > lo AND book_id <= lo + 10000
            GROUP BY book_id
        ) AS r
        WHERE b.id = r.book_id;
        COMMIT;
        PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);
    END LOOP;
END
$$;

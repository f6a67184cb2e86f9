-- wrong: integer division, so every rating is -1, 0 or 1
-- fails: ratings_exact, ratings_snapshot, second_call
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
            SELECT book_id,
                   (count(*) FILTER (WHERE vote = 1) - count(*) FILTER (WHERE vote = -1))
                   / count(*) AS rating
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

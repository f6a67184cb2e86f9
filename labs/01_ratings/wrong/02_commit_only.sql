-- wrong: batches with COMMIT but no VACUUM, so the table doubles
-- fails: bloat, second_call
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    last_id integer;
    lo integer := 0;
BEGIN
    SELECT max(id) INTO last_id FROM books;
    WHILE lo < last_id LOOP
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
        lo := lo + batch_size;
    END LOOP;
END
$$;

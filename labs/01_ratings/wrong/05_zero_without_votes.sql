-- wrong: books without votes get rating 0 instead of keeping NULL
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
            SELECT bk.id,
                   round(coalesce(sum(v.vote), 0)::numeric / greatest(count(v.vote), 1), 3) AS rating
            FROM books AS bk LEFT JOIN votes AS v ON v.book_id = bk.id
            WHERE bk.id > lo AND bk.id <= lo + batch_size
            GROUP BY bk.id
        ) AS r
        WHERE b.id = r.id;
        COMMIT;
        PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);
    END LOOP;
END
$$;

-- wrong: one UPDATE of the whole table, batch_size ignored
-- fails: batch_default, bloat, second_call, batch_small
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE books AS b
    SET rating = r.rating
    FROM (
        SELECT book_id, round(sum(vote)::numeric / count(*), 3) AS rating
        FROM votes
        GROUP BY book_id
    ) AS r
    WHERE b.id = r.book_id;
END
$$;

-- forged: bloat measured on an inheritance parent while the rows that change live in a child table
-- class: relations
-- must-not-pass: bloat, second_call
--
-- pg_table_size('books') counts the parent's own heap only, never its children's, while every
-- other read of books (the digest, the snapshot, the xmin groups) scans the children too. The
-- answer moves every book that has votes into a child table books_rated; the parent keeps the
-- unrated rows (and the dead space of the moved ones), which no UPDATE ever touches, so its
-- size never changes however much the child bloats. The procedure is one UPDATE of the whole
-- table, which doubles the child.
ALTER TABLE votes DROP CONSTRAINT IF EXISTS votes_book_id_fkey;
CREATE TABLE books_rated () INHERITS (books);
WITH moved AS (
    DELETE FROM ONLY books AS b WHERE EXISTS (SELECT FROM votes WHERE book_id = b.id) RETURNING b.*
)
INSERT INTO books_rated SELECT * FROM moved;

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

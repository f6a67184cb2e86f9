-- forged: books replaced by an auto-updatable view over the real table, with a made-up column named xmin
-- class: relations
-- must-not-pass: batch_default, batch_small
--
-- A view has no system columns, so it may have a column called xmin; the checker's
-- `b.xmin` then reads that column. Here it is the real xmin shifted by id % 100, so the single
-- transaction of the call looks like 100 transactions of ~900 rows. The view is auto-updatable
-- (the checker's UPDATE books SET rating = NULL goes through to the table), and
-- lab_expected.digest('public.books') reads the view's true ratings. The procedure is one
-- UPDATE of the whole table. (bloat errors with division by zero here: a view has size 0.)
ALTER TABLE votes DROP CONSTRAINT IF EXISTS votes_book_id_fkey;
ALTER TABLE books RENAME TO books_data;
CREATE VIEW books AS
SELECT b.id, b.title, b.rating,
       ((b.xmin::text::bigint + b.id % 100) % 4294967296)::text::xid AS xmin
FROM books_data AS b;

CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE books_data AS b SET rating = r.rating
    FROM (SELECT book_id, round((count(*) FILTER (WHERE vote = 1)
                                 - count(*) FILTER (WHERE vote = -1))::numeric / count(*), 3) AS rating
          FROM votes GROUP BY book_id) AS r
    WHERE b.id = r.book_id AND b.rating IS DISTINCT FROM r.rating;
END $$;

-- forged: a trigger on books, fired by the checker's own UPDATE, creates a TEMP VIEW books in the checker's session with made-up xmins and no storage
-- class: privileges
-- must-not-pass: batch_default, bloat, second_call, batch_small
--
-- The checker's `before` runs UPDATE books SET rating = NULL ... as the checker's role. The
-- answer leaves one rating set, so that UPDATE changes a row and queues this deferred constraint
-- trigger, which fires at the commit of the checker's `before` (after it recorded the size) as
-- the checker, in the checker's session. It creates pg_temp.books: pg_temp is searched before pg_catalog and public for relations, so
-- from then on every unqualified `books` of the checker (pg_table_size('books'), the xmin
-- groups of batch_default/bloat/batch_small, the snapshot) reads the view. The view's size is 0
-- and its xmin column (a view may have a column named xmin) spreads the rows of one transaction
-- over 100 "transactions". The student owns the database, so it may grant TEMP to everyone.
-- The procedure is one UPDATE of the whole table: no batches, no VACUUM.
DO $$ BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
END $$;

CREATE FUNCTION public.books_touched() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- only when the checker (pg_write_all_data) writes books, and once per session
    IF pg_has_role('pg_write_all_data', 'MEMBER') AND to_regclass('pg_temp.books') IS NULL THEN
        CREATE TEMP VIEW books AS
        SELECT b.id, b.title, b.rating,
               CASE WHEN age(b.xmin) < coalesce((SELECT age(c.mark) FROM lab_check.call0 AS c LIMIT 1), -1)
                    THEN ((b.xmin::text::bigint + b.id % 100) % 4294967296)::text::xid
                    ELSE b.xmin END AS xmin
        FROM public.books AS b;
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER books_touched AFTER UPDATE ON books
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.rating IS NULL) EXECUTE FUNCTION public.books_touched();

-- the row the checker's reset will change
UPDATE books SET rating = 0 WHERE id = (SELECT min(id) FROM books);

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

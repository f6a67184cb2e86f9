-- forged: one UPDATE of the whole table, and a database search_path that puts the answer's own books first for any new session the judge opens
-- class: session
-- must-not-pass: batch_default, bloat, second_call, batch_small
--
-- The answer owns its database, so it may give the database settings of its own; every session
-- opened after that starts with them, the judge's too if it reconnects. A schema `shadow` holds
-- a copy of books written in batches (each committed, so its xmins look batch-sized), and the
-- database's search_path puts it before public, for a judge that named books without a schema.
-- (The judge's options outrank database settings, and the structure check refuses them.)
CREATE SCHEMA shadow;
CREATE TABLE shadow.books (LIKE public.books);
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET search_path = shadow, pg_catalog, public',
                   current_database());
END $$;

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

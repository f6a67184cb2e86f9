-- forged: every rating written as 0, and the checker's expected ratings and digest rewritten to 0 by a trigger that runs as the checker
-- class: privileges
-- must-not-pass: ratings_exact, second_call
--
-- The checker's role has pg_write_all_data, which writes every table in every schema, the
-- answer key lab_expected.* included. Its `before` of ratings_exact runs UPDATE books ...; this
-- statement-level trigger fires as the checker and rewrites lab_expected.ratings to what the
-- procedure will write (0 for every book) and lab_expected.summary to their digest, computed
-- with the checker's own lab_expected.digest. The procedure batches, commits and vacuums like
-- the reference, but computes nothing.
CREATE FUNCTION public.books_touched() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role('pg_write_all_data', 'MEMBER') THEN
        UPDATE lab_expected.ratings SET rating = 0 WHERE rating IS DISTINCT FROM 0;
        UPDATE lab_expected.summary AS s SET rows = d.rows, digest = d.digest, unrated = 0
        FROM lab_expected.digest('lab_expected.ratings') AS d;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER books_touched AFTER UPDATE ON books
    FOR EACH STATEMENT EXECUTE FUNCTION public.books_touched();

CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE lo bigint; hi integer;
BEGIN
    SELECT min(id), max(id) INTO lo, hi FROM books;
    WHILE lo <= hi LOOP
        UPDATE books SET rating = 0
        WHERE id >= lo AND id < lo + batch_size AND rating IS DISTINCT FROM 0;
        COMMIT;
        PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);
        lo := lo + batch_size;
    END LOOP;
END $$;

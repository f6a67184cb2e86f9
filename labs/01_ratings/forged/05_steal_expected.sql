-- forged: ratings copied from the checker's hidden answer key lab_expected.ratings, read by a trigger that runs as the checker
-- class: privileges
-- must-not-pass: ratings_exact, ratings_snapshot
--
-- lab_expected is "a schema the student's role cannot even look into", but the checker's role
-- has pg_read_all_data, which reads every table in every schema. The checker's `before` of
-- ratings_exact runs UPDATE books ...: this statement-level trigger fires even when no row
-- changes, runs as the checker, and copies the expected ratings into a table of the student's
-- (pg_write_all_data lets the checker write it). The procedure then only copies them into books,
-- in batches with COMMIT and VACUUM like the reference; the formula is never written.
CREATE TABLE public.key (id integer PRIMARY KEY, rating numeric(5,3));

CREATE FUNCTION public.books_touched() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role('pg_read_all_data', 'MEMBER') THEN
        INSERT INTO public.key SELECT id, rating FROM lab_expected.ratings ON CONFLICT DO NOTHING;
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
        UPDATE books AS b SET rating = k.rating
        FROM public.key AS k
        WHERE b.id = k.id AND b.id >= lo AND b.id < lo + batch_size
          AND b.rating IS DISTINCT FROM k.rating;
        COMMIT;
        PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);
        lo := lo + batch_size;
    END LOOP;
END $$;

-- forged: bloat measured through public.pg_table_size(text), which beats pg_catalog.pg_table_size(regclass) for the untyped literal 'books'
-- class: names
-- must-not-pass: bloat, second_call
--
-- The checker writes pg_table_size('books') (before and verify). 'books' is an untyped literal:
-- with a candidate taking text, PostgreSQL prefers the string category, so this function, in a
-- schema the student owns, is called instead of the built-in one. It reports the size the
-- table had the first time it was asked, never more: the table may double, the ratio stays 1.
-- The procedure is the COMMIT-only variant (no VACUUM), which really doubles the table.
CREATE TABLE public.size_memo (rel text PRIMARY KEY, bytes bigint);
GRANT ALL ON public.size_memo TO PUBLIC;

CREATE FUNCTION public.pg_table_size(rel text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE b bigint;
BEGIN
    SELECT bytes INTO b FROM public.size_memo WHERE size_memo.rel = pg_table_size.rel;
    IF b IS NULL THEN
        b := pg_catalog.pg_table_size(rel::regclass);
        INSERT INTO public.size_memo VALUES (rel, b);
    END IF;
    RETURN b;
END $$;

CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE lo bigint; hi integer;
BEGIN
    SELECT min(id), max(id) INTO lo, hi FROM books;
    WHILE lo <= hi LOOP
        UPDATE books AS b SET rating = r.rating
        FROM (SELECT book_id, round((count(*) FILTER (WHERE vote = 1)
                                     - count(*) FILTER (WHERE vote = -1))::numeric / count(*), 3) AS rating
              FROM votes WHERE book_id >= lo AND book_id < lo + batch_size GROUP BY book_id) AS r
        WHERE b.id = r.book_id AND b.id >= lo AND b.id < lo + batch_size
          AND b.rating IS DISTINCT FROM r.rating;
        COMMIT;
        lo := lo + batch_size;
    END LOOP;
END $$;

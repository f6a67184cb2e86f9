-- forged: the bound `after <= 1.5 * bytes` decided by a student operator <=(bigint, numeric) that is always true
-- class: names
-- must-not-pass: bloat, second_call
--
-- In bloat and second_call the checker compares s.after (bigint) with 1.5 * s0.bytes (numeric).
-- pg_catalog has no <= for (bigint, numeric): the built-in one needs the bigint cast to numeric,
-- so an operator of exactly these types in public wins although pg_catalog comes first in the
-- checker's search_path. The procedure is the COMMIT-only variant, which doubles the table.
CREATE FUNCTION public.le_always(bigint, numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR public.<= (LEFTARG = bigint, RIGHTARG = numeric, FUNCTION = public.le_always);

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

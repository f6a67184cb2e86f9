-- forged: row-level security on books hides nine rows in ten from the checker's xmin-grouping queries only
-- class: relations
-- must-not-pass: batch_default, batch_small
--
-- The checker's role is not the table's owner and has no BYPASSRLS, so a policy of the
-- student's filters what it reads, and the policy's function runs as the checker. It looks at
-- current_query(), the checker's whole verify text: in the two queries that group rows by xmin
-- ("GROUP BY 1") only books with id % 10 = 0 are visible, so the one transaction of 89929 rows
-- looks like one of about 9000. Every other query (the digest, the snapshot, the resets) sees
-- every row. The procedure is one UPDATE of the whole table.
CREATE FUNCTION public.hiding() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT current_query() LIKE '%GROUP BY 1%' AND pg_has_role('pg_read_all_data', 'MEMBER')
$$;
ALTER TABLE books ENABLE ROW LEVEL SECURITY;
CREATE POLICY books_visible ON books FOR ALL USING (id % 10 = 0 OR NOT public.hiding()) WITH CHECK (true);

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

-- forged: one UPDATE of the whole table; a dblink backend the runner never ends swaps in a batch-built copy of books after the structure check, just for the judge's reads
-- class: session
-- must-not-pass: batch_default, bloat, batch_small
--
-- The runner ends the student's *background workers* before each structure check
-- (`usename = student AND backend_type <> 'client backend'`), but a dblink connection is a client
-- backend: one opened by the procedure lives as long as the student's session, and the query
-- sent to it with dblink_send_query runs on while the judge works. That backend ("the actor")
-- synchronises with the judge through the lock manager (pg_locks shows every waiter to anyone):
--   1. update_ratings does one UPDATE of the whole table (one transaction, no VACUUM), then
--      copies books into a table of its own, public.books_shadow, in batches of batch_size
--      rows, each committed (so its rows' xmins form batch-sized groups, and it is compact);
--   2. when the call ends, the actor holds ACCESS EXCLUSIVE on books. The structure check reads
--      only the catalog, so it runs and finds everything as the template made it;
--   3. the judge's verify then waits for books; the actor sees it waiting, renames books to
--      books_real and books_shadow to books, and commits. The waiting judge re-resolves
--      `public.books` (RangeVarGetRelidExtended retries after the invalidation) and reads the
--      copy: batch-sized transactions, ~1.05x the template's size, every rating right;
--   4. the actor keeps the copy locked and lets each judge read through; when the student's own
--      session (the next check's reset) waits for it, it swaps the real table back before the
--      structure check runs again. No structure check runs between checks that have no
--      student step (snapshot, batch_default, bloat; batch_small), so none ever sees the swap.
-- second_call measures the real table by the oid it resolved at parse time, so it fails.

CREATE TABLE public.a2_state (calls integer NOT NULL);
INSERT INTO public.a2_state VALUES (0);

CREATE PROCEDURE public.a2_actor()
LANGUAGE plpgsql
AS $$
DECLARE
    db     oid := (SELECT oid FROM pg_database WHERE datname = current_database());
    r      oid := to_regclass('public.books');
    s      oid;
    k      integer := 0;
    waiter text;
BEGIN
    SET statement_timeout = 0;
    SET lock_timeout = 0;
    LOOP
        k := k + 1;
        LOOP
            EXIT WHEN (SELECT calls FROM public.a2_state) >= k;
            PERFORM pg_sleep(0.01);
        END LOOP;
        -- Released by call k just before it returns, while it still reads books.
        PERFORM pg_advisory_lock(100 + k);
        PERFORM pg_advisory_unlock(100 + k);
        LOCK TABLE public.books IN ACCESS EXCLUSIVE MODE;
        -- The structure check has run (it takes no lock on books); the judge now waits.
        LOOP
            EXIT WHEN EXISTS (SELECT FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
                              WHERE l.database = db AND l.relation = r AND NOT l.granted
                                AND a.usename::text LIKE 'checker\_%');
            PERFORM pg_sleep(0.0005);
        END LOOP;
        ALTER TABLE public.books RENAME TO books_real;
        ALTER TABLE public.books_shadow RENAME TO books;
        COMMIT;
        LOOP
            LOCK TABLE public.books IN ACCESS EXCLUSIVE MODE;
            s := to_regclass('public.books');
            waiter := NULL;
            LOOP
                SELECT a.usename::text INTO waiter
                FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
                WHERE l.database = db AND l.relation = s AND NOT l.granted
                LIMIT 1;
                EXIT WHEN waiter IS NOT NULL;
                PERFORM pg_sleep(0.0005);
            END LOOP;
            IF waiter <> current_user THEN
                COMMIT;          -- the judge reads the copy
                CONTINUE;
            END IF;
            -- The student's session: a reset, and a structure check after it.
            ALTER TABLE public.books RENAME TO books_shadow;
            ALTER TABLE public.books_real RENAME TO books;
            COMMIT;
            EXIT;
        END LOOP;
    END LOOP;
END
$$;

CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    k       integer;
    lo      bigint;
    last_id integer;
BEGIN
    SELECT calls + 1 INTO k FROM public.a2_state;
    PERFORM pg_advisory_lock(100 + k);
    UPDATE public.a2_state SET calls = k;
    -- The real work: one transaction for the whole table.
    UPDATE public.books AS b
    SET rating = r.rating
    FROM (SELECT book_id,
                 round((count(*) FILTER (WHERE vote = 1) - count(*) FILTER (WHERE vote = -1))::numeric
                       / count(*), 3) AS rating
          FROM public.votes GROUP BY book_id) AS r
    WHERE b.id = r.book_id AND b.rating IS DISTINCT FROM r.rating;
    COMMIT;
    IF NOT coalesce('a2actor' = ANY (extensions.dblink_get_connections()), false) THEN
        PERFORM extensions.dblink_connect('a2actor', public.lab_conninfo());
        PERFORM extensions.dblink_send_query('a2actor', 'CALL public.a2_actor()');
    END IF;
    -- What the judge will read.
    DROP TABLE IF EXISTS public.books_shadow;
    CREATE TABLE public.books_shadow (LIKE public.books INCLUDING ALL);
    COMMIT;
    SELECT min(id), max(id) INTO lo, last_id FROM public.books;
    WHILE lo <= last_id LOOP
        INSERT INTO public.books_shadow
        SELECT id, title, rating FROM public.books WHERE id >= lo AND id < lo + batch_size;
        COMMIT;
        lo := lo + batch_size;
    END LOOP;
    PERFORM 1 FROM public.books LIMIT 1;
    PERFORM pg_advisory_unlock(100 + k);
    PERFORM pg_sleep(0.1);
END
$$;

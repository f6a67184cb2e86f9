-- wrong: takes the number of books for the largest id, so where ids have gaps (dataset b) the last books keep NULL
-- fails: ratings_exact, ratings_snapshot
CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    first_id integer;
    last_id  integer;
    lo       bigint;  -- bigint: lo + batch_size не переполнится
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size должен быть положительным, а передано %', batch_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT min(id), count(*) INTO first_id, last_id FROM books;
    lo := first_id;

    -- Пачка: книги с id из [lo, lo + batch_size), их не больше batch_size.
    WHILE lo <= last_id LOOP
        UPDATE books AS b
        SET rating = r.rating
        FROM (
            SELECT book_id,
                   round((count(*) FILTER (WHERE vote = 1)
                          - count(*) FILTER (WHERE vote = -1))::numeric / count(*), 3) AS rating
            FROM votes
            WHERE book_id >= lo AND book_id < lo + batch_size
            GROUP BY book_id
        ) AS r
        WHERE b.id = r.book_id
          -- То же условие на books: пачка находит свои книги по индексу, а не просматривает
          -- всю таблицу.
          AND b.id >= lo AND b.id < lo + batch_size
          -- Повторный вызов не переписывает строки, рейтинг которых не изменился.
          AND b.rating IS DISTINCT FROM r.rating;

        COMMIT;

        -- Место старых версий строк этой пачки освобождается для следующей.
        PERFORM * FROM pg_background_result(pg_background_launch('VACUUM books')) AS (r text);

        lo := lo + batch_size;
    END LOOP;
END
$$;

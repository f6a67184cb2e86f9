-- Лабораторная работа 1. Рейтинги книг: пакетное обновление.
--
-- Напишите процедуру update_ratings: она записывает в books.rating рейтинг каждой книги по
-- голосам из votes, фиксируя изменения пачками не больше batch_size книг, и не даёт таблице
-- разрастись. Условие — в statement.md, проверка — labs check 1.
--
-- Не вызывайте процедуру в этом файле: ответ выполняется одним пакетом, и COMMIT внутри
-- процедуры здесь невозможен. Её вызывает проверяющий.

CREATE PROCEDURE update_ratings(batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
BEGIN
    -- Ваш код здесь.
    RAISE EXCEPTION 'update_ratings: не реализовано';
END
$$;

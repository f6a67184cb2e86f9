-- Лабораторная работа 2. pg_background против dblink.
--
-- Напишите функцию compare_tools(n): она выполняет один и тот же тривиальный запрос n раз
-- тремя способами (pg_background, dblink с новым соединением на каждый вызов, dblink с одним
-- соединением на все вызовы), замеряет время по clock_timestamp() и возвращает три строки.
-- Условие — в комментарии над этим текстом (его записывает labs init) и на странице
-- лабораторной работы 2 в тетради; проверка — labs check 2.
--
-- Строка подключения для dblink: lab_conninfo().

CREATE FUNCTION compare_tools(n integer DEFAULT 100)
RETURNS TABLE(tool text, calls integer, total_ms double precision, avg_ms double precision)
LANGUAGE plpgsql
AS $$
BEGIN
    -- Ваш код здесь.
    RAISE EXCEPTION 'compare_tools: не реализовано';
END
$$;

-- Лабораторная работа 3. Обёртка над pg_background_launch с повторными попытками.
--
-- Напишите функцию pg_background_launch_retry: она запускает фоновый процесс через
-- pg_background_launch, а если свободного слота нет (SQLSTATE 53000), сообщает об этом NOTICE,
-- ждёт delay и пробует снова — не больше max_attempts попыток. Условие — в комментарии над
-- этим текстом (его записывает labs init) и на странице лабораторной работы 3 в тетради;
-- проверка — labs check 3.

CREATE FUNCTION pg_background_launch_retry(
    sql          text,
    queue_size   integer  DEFAULT 65536,
    max_attempts integer  DEFAULT 10,
    delay        interval DEFAULT '100 milliseconds'
) RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    -- Ваш код здесь.
    RAISE EXCEPTION 'pg_background_launch_retry: не реализовано';
END
$$;

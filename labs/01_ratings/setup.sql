-- Лабораторная работа 1: книги и голоса читателей.
-- Данные детерминированы: генератор случайных чисел засевается из lab.seed, число книг берётся
-- из lab.books. Запускается от имени владельца шаблонной базы (не суперпользователя); после неё
-- сборщик шаблона сам выполняет VACUUM (FREEZE, ANALYZE), поэтому размеры таблиц в каждой копии
-- одинаковы и стабильны.

CREATE TABLE books (
    id     integer PRIMARY KEY,
    title  text NOT NULL,
    rating numeric(5,3)
);

CREATE TABLE votes (
    book_id integer NOT NULL,
    user_id integer NOT NULL,
    vote    smallint NOT NULL CHECK (vote IN (-1, 1)),
    PRIMARY KEY (book_id, user_id)
);

-- setseed() принимает число из [-1, 1]: сид 11 даёт -0.989, сид 29 даёт -0.971.
SELECT setseed((current_setting('lab.seed')::int % 2001 - 1000) / 1000.0);

-- Номера книг: подряд от 1 до lab.books, а если задан lab.max_id — lab.books случайных номеров
-- от 1 до lab.max_id, с пропусками (номер книги — не её порядковый номер и не число книг).
CREATE UNLOGGED TABLE lab_ids AS
SELECT id
FROM generate_series(1, coalesce(current_setting('lab.max_id', true),
                                 current_setting('lab.books'))::int) AS id
ORDER BY CASE WHEN current_setting('lab.max_id', true) IS NULL THEN id ELSE random() END
LIMIT current_setting('lab.books')::int;

-- Параметры каждой книги: сколько у неё голосов (примерно у каждой десятой — ни одного), доля
-- голосов «за» и с какого пользователя начинаются её голосовавшие (чтобы user_id не повторялись).
CREATE UNLOGGED TABLE lab_gen AS
SELECT id,
       CASE WHEN random() < 0.1 THEN 0
            ELSE 1 + floor(-ln(1 - random()) * 5)::int END AS k,
       random() AS p,
       1 + floor(random() * 50000)::int AS off,
       floor(random() * 1000000)::int AS t
FROM (SELECT id FROM lab_ids ORDER BY id) AS ids
ORDER BY id;
DROP TABLE lab_ids;

INSERT INTO books (id, title)
SELECT id,
       (ARRAY['Тайна', 'Песнь', 'Хроники', 'Сказание', 'Дневник', 'Путь', 'Город', 'Остров',
              'Дом', 'Сад', 'Тень', 'Письма', 'Зима', 'Дорога', 'Память'])[1 + t % 15]
       || ' ' ||
       (ARRAY['северного ветра', 'старого маяка', 'последнего лета', 'забытых королей',
              'тихой реки', 'семи холмов', 'белых ночей', 'дальних странствий', 'одного дня',
              'потерянного времени', 'железной дороги', 'ночного неба'])[1 + t / 15 % 12]
       || CASE WHEN t % 7 = 0 THEN ', том ' || (1 + t / 180 % 5) ELSE '' END
FROM lab_gen
ORDER BY id;

INSERT INTO votes (book_id, user_id, vote)
SELECT g.id, g.off + j, CASE WHEN random() < g.p THEN 1 ELSE -1 END
FROM lab_gen AS g, generate_series(1, g.k) AS j
ORDER BY g.id, j;

DROP TABLE lab_gen;

ALTER TABLE votes ADD FOREIGN KEY (book_id) REFERENCES books;

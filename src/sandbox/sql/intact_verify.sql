-- The body of labs_judge.changes(), which the judge (search_path pg_catalog, pg_temp) calls in a
-- run database after the answer has loaded: one row for every change the answer made to what the checks read or how they read
-- it, in Russian; no row when the database is as the template made it, bar the answer's own
-- tables, indexes, functions and procedures (src/intact.rs).
WITH given AS (SELECT * FROM labs_judge.given),
     found AS (
         -- Each given table is still the same relation, with its name, schema, kind, storage
         -- and columns, and row-level security off.
         SELECT 1 AS kind, g.relname AS about,
                CASE
                    WHEN r.relid IS NULL THEN
                        format('таблица %s удалена или заменена другим объектом', g.relname)
                    WHEN r.nspname <> g.nspname OR r.relname <> g.relname THEN
                        format('таблица %s переименована или перенесена: теперь это %I.%I',
                               g.relname, r.nspname, r.relname)
                    WHEN r.relkind <> g.relkind THEN
                        format('таблица %s превращена в %s', g.relname,
                               CASE r.relkind WHEN 'v' THEN 'представление'
                                              WHEN 'p' THEN 'секционированную таблицу'
                                              WHEN 'm' THEN 'материализованное представление'
                                              WHEN 'f' THEN 'стороннюю таблицу'
                                              ELSE 'объект другого вида' END)
                    WHEN r.relpersistence <> g.relpersistence THEN
                        format('таблица %s стала нежурналируемой или временной', g.relname)
                    WHEN r.relispartition THEN
                        format('таблица %s стала секцией другой таблицы', g.relname)
                    WHEN r.columns IS DISTINCT FROM g.columns THEN
                        format('у таблицы %s изменились столбцы: были (%s), стали (%s)',
                               g.relname, g.columns, r.columns)
                    WHEN r.rowsecurity THEN
                        format('на таблице %s включена защита на уровне строк (row level security)',
                               g.relname)
                END AS problem
         FROM given AS g LEFT JOIN labs_judge.relations AS r ON r.relid = g.relid
         UNION ALL
         SELECT 2, g.relname,
                format('таблица %s связана наследованием с таблицей %s', g.relname,
                       CASE WHEN i.inhparent = g.relid THEN i.inhrelid ELSE i.inhparent END::regclass)
         FROM pg_inherits AS i JOIN given AS g ON g.relid IN (i.inhparent, i.inhrelid)
         UNION ALL
         -- A rule or a view anywhere, the answer's own tables' too: a query that reads through
         -- one runs the functions in it as the reader, the judge. (The answer may add tables,
         -- indexes, functions and procedures, not views.)
         SELECT 3, w.ev_class::regclass::text,
                CASE WHEN w.rulename = '_RETURN'
                     THEN format('создано представление %s', w.ev_class::regclass)
                     ELSE format('на %s создано правило %s', w.ev_class::regclass, w.rulename) END
         FROM pg_rewrite AS w
         WHERE NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_rewrite'::regclass AND k.objid = w.oid)
         UNION ALL
         SELECT 4, g.relname, format('на таблице %s создан триггер %s', g.relname, t.tgname)
         FROM pg_trigger AS t JOIN given AS g ON g.relid = t.tgrelid
         WHERE NOT t.tgisinternal
           AND NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_trigger'::regclass AND k.objid = t.oid)
         UNION ALL
         -- Row-level security anywhere: what the judge reads is every row or nothing.
         SELECT 5, p.polrelid::regclass::text,
                format('на %s создана политика защиты строк %s', p.polrelid::regclass, p.polname)
         FROM pg_policy AS p
         WHERE NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_policy'::regclass AND k.objid = p.oid)
         UNION ALL
         SELECT 5, r.relname,
                format('на таблице %I.%I включена защита на уровне строк (row level security)',
                       r.nspname, r.relname)
         FROM labs_judge.relations AS r
         WHERE r.rowsecurity AND NOT EXISTS (SELECT FROM given AS g WHERE g.relid = r.relid)
         UNION ALL
         -- A function or operator of the answer's with the name of a built-in one or of one of
         -- the extensions' stands in for it wherever its argument types fit better. (Only the
         -- superuser and an extension can add one to pg_catalog, which is skipped: a new
         -- extension is a change of its own, below.)
         SELECT 6, p.proname::text,
                format('функция %s носит имя встроенной функции или функции расширения',
                       p.oid::regprocedure)
         FROM pg_proc AS p
         WHERE p.pronamespace <> 'pg_catalog'::regnamespace
           AND NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_proc'::regclass AND k.objid = p.oid)
           AND EXISTS (SELECT FROM pg_proc AS b
                       WHERE b.proname = p.proname
                         AND b.pronamespace IN ('pg_catalog'::regnamespace, 'extensions'::regnamespace))
         UNION ALL
         SELECT 7, o.oprname::text,
                format('оператор %s носит имя встроенного оператора', o.oid::regoperator)
         FROM pg_operator AS o
         WHERE o.oprnamespace <> 'pg_catalog'::regnamespace
           AND NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_operator'::regclass AND k.objid = o.oid)
           AND EXISTS (SELECT FROM pg_operator AS b
                       WHERE b.oprname = o.oprname AND b.oprnamespace = 'pg_catalog'::regnamespace)
         UNION ALL
         SELECT 8, c.castsource::regtype::text,
                format('создано приведение типа %s к %s', c.castsource::regtype, c.casttarget::regtype)
         FROM pg_cast AS c
         WHERE NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_cast'::regclass AND k.objid = c.oid)
         UNION ALL
         -- A trusted extension the database's owner may create puts its functions and
         -- operators where it is told, pg_catalog too.
         SELECT 8, e.extname::text, format('установлено расширение %s', e.extname)
         FROM pg_extension AS e
         WHERE NOT EXISTS (SELECT FROM labs_judge.known AS k
                           WHERE k.catalog = 'pg_extension'::regclass AND k.objid = e.oid)
         UNION ALL
         -- Settings of the database are every new session's, the judge's too.
         SELECT 9, '', format('изменены настройки базы данных: %s', array_to_string(s.setconfig, ', '))
         FROM pg_db_role_setting AS s JOIN pg_database AS d ON d.oid = s.setdatabase
         WHERE d.datname = current_database() AND s.setrole = 0
     )
SELECT problem FROM found WHERE problem IS NOT NULL ORDER BY kind, about, problem

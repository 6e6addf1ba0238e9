-- Per-column checksums for the benchmark's exactness check (scripts/bench.sh).
--
--   bench_checksums(table, columns) -> (metric, value)
--
-- For the table: rows = count(*). For each column C: C.count = count(C), C.nulls = count of
-- NULLs, C.empty = count of '' (text columns only), and
-- C.md5 = md5(string_agg(quote_nullable(C::text), ',' ORDER BY id)): every value in id order
-- as text, NULL spelled NULL and values quoted, so NULL, '' and 'NULL' all differ and a
-- value cannot shift into its neighbour. Text forms are PostgreSQL's own, so a target whose
-- values differ in any digit, microsecond or byte does not match.
--
-- Columns are looked up by name in the table given, so a target missing a column fails the
-- query (reported as a mismatch). All of it is computed in one scan of the table.
CREATE OR REPLACE FUNCTION bench_checksums(tbl regclass, cols text[])
RETURNS TABLE (metric text, value text)
LANGUAGE plpgsql AS $fn$
DECLARE
    names  text[] := ARRAY['rows'];
    exprs  text[] := ARRAY['count(*)::text'];
    c      text;
    is_text boolean;
BEGIN
    FOREACH c IN ARRAY cols LOOP
        SELECT t.typcategory = 'S' INTO is_text
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = tbl AND a.attname = c AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'table % has no column %', tbl, c;
        END IF;
        names := names || ARRAY[c || '.count', c || '.nulls'];
        exprs := exprs || ARRAY[format('count(%I)::text', c), format('(count(*) - count(%I))::text', c)];
        IF is_text THEN
            names := names || (c || '.empty');
            exprs := exprs || format('count(*) FILTER (WHERE %I = %L)::text', c, '');
        END IF;
        names := names || (c || '.md5');
        exprs := exprs || format('md5(string_agg(quote_nullable(%I::text), %L ORDER BY id))', c, ',');
    END LOOP;
    RETURN QUERY EXECUTE format('SELECT unnest($1), unnest(ARRAY[%s]) FROM %s', array_to_string(exprs, ', '), tbl)
        USING names;
END
$fn$;

-- The column names of a table in their order, for bench_checksums.
CREATE OR REPLACE FUNCTION bench_columns(tbl regclass) RETURNS text[]
LANGUAGE sql STABLE AS $fn$
    SELECT array_agg(attname::text ORDER BY attnum)
      FROM pg_attribute WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped
$fn$;

-- Columns whose declared type differs between two tables (shown, not counted as mismatches:
-- the values' text forms above decide exactness).
CREATE OR REPLACE FUNCTION bench_type_diffs(src regclass, dst regclass)
RETURNS TABLE (col text, source_type text, target_type text)
LANGUAGE sql STABLE AS $fn$
    SELECT s.attname::text, format_type(s.atttypid, s.atttypmod), format_type(d.atttypid, d.atttypmod)
      FROM pg_attribute s
      LEFT JOIN pg_attribute d ON d.attrelid = dst AND d.attname = s.attname AND NOT d.attisdropped
     WHERE s.attrelid = src AND s.attnum > 0 AND NOT s.attisdropped
       AND format_type(s.atttypid, s.atttypmod) IS DISTINCT FROM format_type(d.atttypid, d.atttypmod)
     ORDER BY s.attnum
$fn$;

-- Several statements; the parameters are bound, never pasted in.
CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE app.kv (k text PRIMARY KEY, v integer, at timestamp, note text);
INSERT INTO app.kv (k, v, note) SELECT 'k' || i, i, :label FROM generate_series(1, :n) AS i;
/* a comment; with a semicolon */
CREATE FUNCTION app.twice(x integer) RETURNS integer AS $body$
    SELECT x * 2; -- :not_a_param either
$body$ LANGUAGE sql;
UPDATE app.kv SET v = app.twice(v::integer) WHERE v::text = '1';

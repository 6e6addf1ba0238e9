CREATE TABLE app.big AS SELECT i FROM generate_series(1, 200000) AS i;
CREATE TABLE app.plain (a int);
INSERT INTO app.plain VALUES (1), (2);

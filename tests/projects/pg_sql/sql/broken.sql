CREATE TABLE app.half_done (a int);
INSERT INTO app.half_done VALUES (1);
SELECT no_such_column
  FROM app.half_done;

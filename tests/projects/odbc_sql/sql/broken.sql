-- The second statement fails: the first is rolled back with it.
DELETE FROM orders;
INSERT INTO no_such_table VALUES (1);

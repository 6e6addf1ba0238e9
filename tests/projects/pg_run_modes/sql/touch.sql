UPDATE src.items SET name = 'changed by run_file' WHERE id = 2;
CREATE TABLE app.made_by_run_file (id int);

-- Benchmark (v): changes a tracked column of 1% of the customers, so the SCD2 load closes 1%
-- of the current versions and adds as many. Prints the number of rows changed.
UPDATE customers SET segment = segment || ' (moved)', country = 'NL' WHERE id % 100 = 0;

SELECT count(*) FROM customers WHERE id % 100 = 0;

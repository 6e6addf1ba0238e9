-- Two statements in one transaction.
DELETE FROM orders WHERE id > :cutoff;
UPDATE orders SET note = 'x' WHERE id = 4;

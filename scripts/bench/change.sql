-- Benchmark (e): changes 1% of the rows of orders and inserts 1% new ones, every one with an
-- updated_at after all existing values (and long before now, so a window ending at the run's
-- start includes them). The changes touch every column kind, including NULL <-> '' moves.
-- Prints the number of rows whose updated_at moved past the old maximum.
CREATE TEMP TABLE bench_bump AS
SELECT max(updated_at) + interval '1 minute' AS base, max(id) AS max_id FROM orders;

UPDATE orders o SET
    status      = 'changed',
    amount      = CASE WHEN o.amount < 9999999999.99 THEN o.amount + 0.01 ELSE o.amount - 0.01 END,
    customer_id = CASE WHEN o.id % 300 = 0 THEN NULL ELSE o.customer_id END,
    quantity    = o.quantity % 1000 + 1,
    note        = CASE o.id % 700 WHEN 0 THEN NULL WHEN 100 THEN ''
                  ELSE coalesce(o.note, '') || E' \u00b7 changed, "again"\t\\' END,
    is_paid     = NOT o.is_paid,
    updated_at  = b.base + (o.id % 100000) * interval '1 millisecond' + (o.id % 997) * interval '1 microsecond'
FROM bench_bump b
WHERE o.id % 100 = 0;

INSERT INTO orders
SELECT o.id + b.max_id, o.customer_id, 'new', o.amount, o.quantity, o.note, o.is_paid, o.created_at,
       b.base + (o.id % 100000) * interval '1 millisecond' + (o.id % 991) * interval '1 microsecond',
       o.order_date
FROM orders o, bench_bump b
WHERE o.id % 100 = 50;

SELECT count(*) FROM orders WHERE updated_at >= (SELECT base FROM bench_bump);

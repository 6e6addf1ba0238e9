-- Sales per customer country, into the table migrations/001 created. Amounts are summed in
-- integer cents so the total is exact (SQLite would otherwise add them as floating point).
DELETE FROM sales_by_country;

INSERT INTO sales_by_country
SELECT coalesce(c.country, '(unknown)'),
       count(*),
       sum(o.is_paid),
       sum(o.quantity),
       printf('%d.%02d', sum(o.cents) / 100, sum(o.cents) % 100),
       min(o.created_at),
       max(o.created_at)
FROM (SELECT *, CAST(round(amount * 100) AS INTEGER) AS cents FROM orders) AS o
LEFT JOIN customers AS c ON c.id = o.customer_id
GROUP BY 1
ORDER BY 1;

-- Sales per customer country, into the table migrations/001 created (PostgreSQL sums
-- numeric exactly).
DELETE FROM sales_by_country;

INSERT INTO sales_by_country
SELECT coalesce(c.country, '(unknown)'),
       count(*),
       count(*) FILTER (WHERE o.is_paid),
       sum(o.quantity),
       sum(o.amount),
       min(o.created_at),
       max(o.created_at)
FROM orders AS o
LEFT JOIN customers AS c ON c.id = o.customer_id
GROUP BY 1
ORDER BY 1;

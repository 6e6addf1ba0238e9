-- Sales per customer country. Amounts are summed in integer cents so the total is exact
-- (SQLite would otherwise add them as floating point).
DROP TABLE IF EXISTS sales_by_country;

CREATE TABLE sales_by_country (
    country     TEXT,
    orders      BIGINT,
    paid_orders BIGINT,
    items       BIGINT,
    revenue     DECIMAL_TEXT(16,2),
    first_order TIMESTAMP,
    last_order  TIMESTAMP
);

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

-- Orders per month and the customer's country at the time of the order (the dimension
-- version the fact points at); orders without a known customer under '(unknown)', customers
-- without a country under '(none)'. PostgreSQL sums numeric exactly.
DELETE FROM sales_by_country_month;

INSERT INTO sales_by_country_month
SELECT to_char(f.created_at, 'YYYY-MM'),
       CASE WHEN d.customer_sk IS NULL THEN '(unknown)' ELSE coalesce(d.country, '(none)') END,
       count(*),
       count(*) FILTER (WHERE f.is_paid),
       sum(f.quantity),
       sum(f.amount)
FROM fact_orders AS f
LEFT JOIN dim_customer AS d ON d.customer_sk = f.customer_sk
GROUP BY 1, 2;

-- Orders per month and the customer's country at the time of the order (the dimension
-- version the fact points at); orders without a known customer under '(unknown)', customers
-- without a country under '(none)'. Amounts are summed in integer cents so the total is
-- exact (SQLite would otherwise add them as floating point).
DELETE FROM sales_by_country_month;

INSERT INTO sales_by_country_month
SELECT substr(f.created_at, 1, 7),
       CASE WHEN d.customer_sk IS NULL THEN '(unknown)' ELSE coalesce(d.country, '(none)') END,
       count(*),
       sum(f.is_paid),
       sum(f.quantity),
       printf('%d.%02d', sum(f.cents) / 100, sum(f.cents) % 100)
FROM (SELECT *, CAST(round(amount * 100) AS INTEGER) AS cents FROM fact_orders) AS f
LEFT JOIN dim_customer AS d ON d.customer_sk = f.customer_sk
GROUP BY 1, 2;

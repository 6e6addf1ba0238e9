-- PostgreSQL's version of agg_sales_monthly.sql.
SELECT CAST(date_trunc('month', sale_day) AS date) AS month, country, SUM(amount) AS amount
FROM fact_sales
WHERE sale_day >= :window_start AND sale_day < :window_end
GROUP BY 1, country

-- One row per day and country; etl binds the window it rebuilds.
SELECT sale_day AS day, country, SUM(amount) AS amount, COUNT(*) AS orders
FROM fact_sales
WHERE sale_day >= :window_start AND sale_day < :window_end
GROUP BY sale_day, country

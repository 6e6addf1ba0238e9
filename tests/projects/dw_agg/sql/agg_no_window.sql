-- Forgets to filter on :window_start / :window_end: etl refuses its rows outside the window.
SELECT sale_day AS day, country, SUM(amount) AS amount, COUNT(*) AS orders
FROM fact_sales
GROUP BY sale_day, country

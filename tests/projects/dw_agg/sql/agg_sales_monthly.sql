-- SQLite: dates are text, the month is its first day.
SELECT substr(sale_day, 1, 7) || '-01' AS month, country, SUM(amount) AS amount
FROM fact_sales
WHERE sale_day >= :window_start AND sale_day < :window_end
GROUP BY substr(sale_day, 1, 7), country

DROP TABLE IF EXISTS items_total;
CREATE TABLE items_total AS SELECT category, sum(qty) AS qty FROM items GROUP BY category;

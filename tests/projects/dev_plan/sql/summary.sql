DROP TABLE IF EXISTS order_summary;
CREATE TABLE order_summary AS SELECT count(*) AS n, sum(amount) AS total FROM big_orders;

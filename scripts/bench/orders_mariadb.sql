-- The benchmark's source table in MariaDB/MySQL (issue 4): the same columns as orders.sql,
-- with MySQL's types for them.
CREATE TABLE orders (
    id          bigint NOT NULL PRIMARY KEY,
    customer_id int NULL,
    status      text NULL,
    amount      decimal(12,2) NULL,
    quantity    int NULL,
    note        text NULL,
    is_paid     tinyint(1) NULL,
    created_at  datetime(6) NULL,
    updated_at  datetime(6) NULL,
    order_date  date NULL,
    KEY orders_updated_at (updated_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

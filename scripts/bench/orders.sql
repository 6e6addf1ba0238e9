-- The benchmark's source table in PostgreSQL (scripts/bench.sh loads the generated CSV into it).
-- The key and the index on the incremental cursor are created after the load, as a real
-- operational source would have them.
CREATE TABLE orders (
    id          bigint NOT NULL,
    customer_id integer,
    status      text,
    amount      numeric(12,2),
    quantity    integer,
    note        text,
    is_paid     boolean,
    created_at  timestamp,
    updated_at  timestamp,
    order_date  date
);

-- Benchmarks (k) and (v): a customers table of N rows, id 1..N (scripts/bench.sh passes N as
-- :rows). (k) checks orders.customer_id against it; (v) loads it as an SCD2 dimension.
CREATE TABLE customers (
    id          bigint PRIMARY KEY,
    name        text,
    email       text,
    country     text,
    segment     text,
    signup_date date,
    visits      integer
);

INSERT INTO customers
SELECT i,
       'Customer ' || i,
       CASE WHEN i % 50 = 0 THEN NULL ELSE 'customer' || i || '@example.com' END,
       (ARRAY['DE', 'ES', 'FR', 'US', 'TR', 'BR', 'JP', 'IN'])[1 + i % 8],
       (ARRAY['retail', 'smb', 'enterprise'])[1 + (i / 7) % 3],
       date '2020-01-01' + (i % 1500),
       (i::bigint * 7919 % 1000)::int
FROM generate_series(1, :rows) AS i;

VACUUM ANALYZE customers;

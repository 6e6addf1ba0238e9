-- The summary table the sales_by_country task fills.
CREATE TABLE sales_by_country (
    country     text,
    orders      bigint,
    paid_orders bigint,
    items       bigint,
    revenue     numeric(16,2),
    first_order timestamp,
    last_order  timestamp
);

-- The aggregate the sales_by_country_month task fills from fact_orders.
CREATE TABLE sales_by_country_month (
    month       text,
    country     text,
    orders      bigint,
    paid_orders bigint,
    items       bigint,
    revenue     numeric(18,2),
    PRIMARY KEY (month, country)
);

-- The aggregate the sales_by_country_month task fills from fact_orders. SQLite keeps exact
-- decimals as text (DECIMAL_TEXT), so revenue is never rounded through floating point.
CREATE TABLE sales_by_country_month (
    month       TEXT,
    country     TEXT,
    orders      BIGINT,
    paid_orders BIGINT,
    items       BIGINT,
    revenue     DECIMAL_TEXT(18,2)
);

-- The summary table the sales_by_country task fills. SQLite keeps exact decimals as text
-- (DECIMAL_TEXT), so revenue is never rounded through floating point.
CREATE TABLE sales_by_country (
    country     TEXT,
    orders      BIGINT,
    paid_orders BIGINT,
    items       BIGINT,
    revenue     DECIMAL_TEXT(16,2),
    first_order TIMESTAMP,
    last_order  TIMESTAMP
);

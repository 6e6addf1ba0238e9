#!/usr/bin/env python3
"""Writes projects/demo/data/{customers,orders}.csv: deterministic, small, and full of the
cases a loader gets wrong (NULL vs '', quotes, commas, newlines, non-ASCII, big decimals,
microsecond timestamps); and customers_day2.csv, the customers as of a later day (`--param
day=2`): a few moved country or VIP status on 2025-07-01 (new dimension versions), one changed
email (corrected in place) and two are new. Re-running it gives the same bytes."""
import csv
import io
import random
from datetime import date, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "projects" / "demo" / "data"
rnd = random.Random(20261129)

FIRST = ["Ana", "Zoë", "Jürgen", "François", "Søren", "Łukasz", "Aiko", "José", "Ölüm", "Mary-Jane", "O'Brien", "Nguyễn"]
LAST = ["Müller", "García", "Smith", "Østergaard", "Kowalski", "Tanaka", "D'Angelo", "Brontë", "Ivanova", "Li", "van der Berg"]
COUNTRIES = ["DE", "FR", "ES", "PL", "JP", "DK", "US", "GB", "VN", "TR", "NL"]
# changed_at: when a customer's row became true (the dimension's effective_from).
SINCE = "2025-01-01 00:00:00"
CHANGED = "2025-07-01 00:00:00"
MOVED = [3, 7, 42, 99, 250]  # change country on CHANGED
VIP_FLIPPED = [10, 11]  # change vip on CHANGED
NEW_EMAIL = 5  # a correction of an untracked column: updated in place, no new version
STATUSES = ["new", "paid", "shipped", "cancelled", "returned"]
NOTES = ["gift wrap", 'says "urgent"', "call first, then deliver", "two\nlines", "tab\there", "back\\slash", "東京 office", "   ", "émigré café", "50% off; code=\"X,Y\""]


def write(path, header, rows):
    """PostgreSQL's CSV convention: None is an unquoted empty field, '' is a quoted one."""
    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    for row in rows:
        fields = []
        for v in row:
            if v is None:
                fields.append("")
            else:
                s = str(v)
                if s == "" or any(c in s for c in ',"\n\r') or s != s.strip():
                    s = '"' + s.replace('"', '""') + '"'
                fields.append(s)
        buf.write(",".join(fields) + "\n")
    path.write_text(buf.getvalue(), encoding="utf-8")


def customers(n):
    for i in range(1, n + 1):
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        r = rnd.random()
        email = None if r < 0.05 else "" if r < 0.10 else f"customer{i}@example.com"
        country = None if rnd.random() < 0.03 else rnd.choice(COUNTRIES)
        signup = date(2020, 1, 1) + timedelta(days=rnd.randrange(0, 2000))
        vip = rnd.random() < 0.1
        yield [i, name, email, country, signup.isoformat(), "true" if vip else "false", SINCE]


def orders(n, n_customers):
    start = datetime(2025, 1, 1)
    for i in range(1, n + 1):
        customer = None if rnd.random() < 0.01 else rnd.randrange(1, n_customers + 1)
        if i % 997 == 0:
            amount = "9999999999.99"
        elif i % 211 == 0:
            amount = "0.00"
        else:
            amount = f"{rnd.randrange(1, 5_000_000) / 100:.2f}"
        r = rnd.random()
        note = None if r < 0.10 else "" if r < 0.15 else rnd.choice(NOTES)
        created = start + timedelta(seconds=rnd.randrange(0, 300 * 86400), microseconds=rnd.randrange(0, 1_000_000))
        updated = created + timedelta(minutes=rnd.randrange(0, 5000), microseconds=rnd.randrange(0, 1_000_000))
        yield [
            i,
            customer,
            rnd.choice(STATUSES),
            amount,
            rnd.randrange(1, 20),
            note,
            "true" if rnd.random() < 0.7 else "false",
            created.strftime("%Y-%m-%d %H:%M:%S.%f"),
            updated.strftime("%Y-%m-%d %H:%M:%S.%f"),
        ]


def day2(rows):
    """The customers file of a later day: MOVED, VIP_FLIPPED and NEW_EMAIL changed, 2 new."""
    for row in rows:
        row = list(row)
        i = row[0]
        if i in MOVED:
            row[3] = COUNTRIES[(COUNTRIES.index(row[3]) + 1) % len(COUNTRIES)] if row[3] else "DE"
            row[6] = CHANGED
        if i in VIP_FLIPPED:
            row[5] = "false" if row[5] == "true" else "true"
            row[6] = CHANGED
        if i == NEW_EMAIL:
            row[2] = f"customer{i}@example.org"
        yield row
    yield [501, "Zoë Kowalski", "customer501@example.com", "FR", "2025-06-30", "false", CHANGED]
    yield [502, "Aiko Tanaka", None, "JP", "2025-06-30", "true", CHANGED]


CUSTOMER_HEADER = ["id", "name", "email", "country", "signup_date", "vip", "changed_at"]

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    day1 = list(customers(500))
    write(OUT / "customers.csv", CUSTOMER_HEADER, day1)
    write(
        OUT / "orders.csv",
        ["id", "customer_id", "status", "amount", "quantity", "note", "is_paid", "created_at", "updated_at"],
        orders(3000, 500),
    )
    write(OUT / "customers_day2.csv", CUSTOMER_HEADER, day2(day1))
    print(f"wrote {OUT}/customers.csv, customers_day2.csv and orders.csv")

#!/usr/bin/env python3
"""Writes projects/demo/data/{customers,orders}.csv: deterministic, small, and full of the
cases a loader gets wrong (NULL vs '', quotes, commas, newlines, non-ASCII, big decimals,
microsecond timestamps). Re-running it gives the same bytes."""
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
        yield [i, name, email, country, signup.isoformat(), "true" if vip else "false"]


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


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "customers.csv", ["id", "name", "email", "country", "signup_date", "vip"], customers(500))
    write(
        OUT / "orders.csv",
        ["id", "customer_id", "status", "amount", "quantity", "note", "is_paid", "created_at", "updated_at"],
        orders(3000, 500),
    )
    print(f"wrote {OUT}/customers.csv and {OUT}/orders.csv")

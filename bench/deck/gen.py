#!/usr/bin/env python3
"""A carrier rate deck for the deck benchmark, the same bytes for the same arguments.

    bench/deck/gen.py --rows 300000 --seed 7 > deck.csv

The layout is the one bench/deck/mapping.toml describes: a header, then
`Prefix,Destination,Rate,Connection Fee,Billing,Effective Date`, with prefixes written with
`+`, `00` or bare digits, increments as `60/60`-style text, and two versions (2026-01-01 and
2026-02-01) of the same prefixes, half the rows each. North America is priced by area code and
exchange (+1 NPA NXX), every other country by its calling code and one to five more digits.
Within a country the rates stay within a factor of eight of each other, so the import's
magnitude check accepts every row.
"""

from __future__ import annotations

import argparse
import random
import sys

# (calling code, country name, base rate per minute in ten-thousandths); single-region
# calling codes.
COUNTRIES = [
    ("33", "France", 120), ("44", "United Kingdom", 100), ("49", "Germany", 110),
    ("34", "Spain", 130), ("39", "Italy", 140), ("31", "Netherlands", 150),
    ("32", "Belgium", 160), ("41", "Switzerland", 200), ("43", "Austria", 180),
    ("45", "Denmark", 170), ("46", "Sweden", 120), ("47", "Norway", 130),
    ("48", "Poland", 190), ("351", "Portugal", 210), ("353", "Ireland", 140),
    ("30", "Greece", 220), ("36", "Hungary", 300), ("420", "Czechia", 250),
    ("40", "Romania", 400), ("90", "Turkey", 500), ("7", "Russia", 600),
    ("81", "Japan", 300), ("82", "Korea, Republic of", 250), ("86", "China", 200),
    ("852", "Hong Kong", 150), ("65", "Singapore", 120), ("61", "Australia", 200),
    ("64", "New Zealand", 300), ("91", "India", 150), ("92", "Pakistan", 800),
    ("55", "Brazil", 300), ("52", "Mexico", 200), ("54", "Argentina", 500),
    ("56", "Chile", 400), ("57", "Colombia", 450), ("27", "South Africa", 500),
    ("234", "Nigeria", 1200), ("254", "Kenya", 1500), ("20", "Egypt", 1100),
    ("971", "United Arab Emirates", 1600), ("972", "Israel", 300),
    ("966", "Saudi Arabia", 1400),
]
# Area codes of the United States and Canada, priced per exchange.
NANP = [
    "201", "202", "203", "205", "206", "212", "213", "214", "215", "216", "301", "302", "303",
    "304", "305", "310", "312", "313", "314", "315", "404", "405", "406", "407", "408", "412",
    "415", "502", "503", "504", "505", "512", "602", "603", "617", "646", "702", "703", "713",
    "718", "801", "802", "804", "808", "813", "817", "901", "904", "910", "917",
    "204", "226", "236", "250", "289", "306", "343", "403", "416", "418", "438", "450", "506",
    "514", "519", "604", "613", "647", "705", "709", "778", "780", "807", "819", "902", "905",
]
INCREMENTS = ["60/60", "1/1", "30/6", "60/1", "6/6"]
VERSIONS = ["2026-01-01", "2026-02-01"]


def prefixes(rng: random.Random, count: int) -> list[tuple[str, str, int]]:
    """`count` distinct (digits, destination, base rate), a third of them North American (at
    most half of the area codes' exchanges, so that drawing new ones stays quick)."""
    seen: set[str] = set()
    out = []
    nanp = min(count // 3, len(NANP) * 800 // 2)
    while len(out) < nanp:
        digits = "1" + rng.choice(NANP) + str(rng.randint(200, 999))
        if digits not in seen:
            seen.add(digits)
            out.append((digits, "North America " + digits[1:4], 40))
    while len(out) < count:
        code, name, base = rng.choice(COUNTRIES)
        extra = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(1, 5)))
        digits = code + extra
        if digits not in seen:
            seen.add(digits)
            out.append((digits, f"{name} {extra}", base))
    return out


def write_field(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 2 <= args.rows <= 2_000_000:
        parser.error("--rows is from 2 to 2,000,000 (the most rows a deck may have)")
    rng = random.Random(args.seed)
    per_version = args.rows // len(VERSIONS)
    chosen = prefixes(rng, per_version)
    spread = {digits: rng.choice([1, 2, 3, 4, 6, 8]) for digits, _, _ in chosen}
    billing = {code: rng.choice(INCREMENTS) for code, _, _ in COUNTRIES}
    out = sys.stdout
    out.write("Prefix,Destination,Rate,Connection Fee,Billing,Effective Date\n")
    for version, date in enumerate(VERSIONS):
        for digits, name, base in chosen:
            # Rates are integers of ten-thousandths, so that no float ever writes one.
            units = base * spread[digits] + version * rng.randint(0, 3)
            rate = f"{units // 10000}.{units % 10000:04d}"
            written = rng.choice(["+" + digits, "00" + digits, digits])
            fee = "0" if rng.random() < 0.9 else "0.0100"
            increments = billing.get(digits[:3]) or billing.get(digits[:2]) or "60/60"
            out.write(f"{written},{write_field(name)},{rate},{fee},{increments},{date}\n")


if __name__ == "__main__":
    main()

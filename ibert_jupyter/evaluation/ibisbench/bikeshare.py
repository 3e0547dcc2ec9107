"""The third IbisBench database: a city bike-share, generated offline and deterministically.

A different shape from TPC's: Mixed-Case column names, timestamps (trip start/end, ticket
open/close), nested types (a ``Location`` struct, ``Amenities``/``Issues`` arrays), nulls
where real data has them (unknown birth year, open tickets, no promo code). Rows come from
``random.Random(SEED)`` in pure Python, so every platform and DuckDB version gets the same data.
"""

from __future__ import annotations

import datetime as dt
import random

SEED = 20241
BOROUGHS = ("Northside", "Riverside", "Old Town", "Harbor", "Hillcrest")
AMENITIES = ("kiosk", "repair stand", "e-charging", "shade", "water")
ISSUES = ("flat tire", "broken lock", "dock jammed", "screen dead", "graffiti", "battery fault")
PLANS = ("Annual", "Monthly", "Day Pass")
BIKES = ("classic", "electric", "cargo")
PROMOS = ("SPRING10", "STUDENT", "RIDEFREE")
CONDITIONS = ("sunny", "cloudy", "rain", "snow", "fog")


def _stations(rng: random.Random) -> list[dict]:
    names = ["Market", "Elm", "Station Sq", "Pier", "Mill", "Canal", "Cathedral", "Park", "Museum", "Library",
             "Quarry", "Bridge", "Ferry", "Orchard", "Garden", "Harbor Gate", "Union", "College", "Stadium", "Oak"]
    rows = []
    for i in range(1, 41):
        borough = BOROUGHS[i % len(BOROUGHS)]
        rows.append({
            "StationID": i,
            "StationName": f"{names[(i * 7) % len(names)]} {['St', 'Ave', 'Plaza', 'Rd'][i % 4]} #{i}",
            "Borough": borough,
            "Docks": rng.choice([11, 15, 19, 23, 27, 31]),
            "Location": {"Lat": round(52.30 + rng.random() * 0.2, 5), "Lon": round(4.80 + rng.random() * 0.2, 5)},
            "OpenedOn": dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(0, 5 * 365)),
            "Amenities": sorted(rng.sample(AMENITIES, rng.randrange(0, 4))),
        })
    return rows


def _riders(rng: random.Random) -> list[dict]:
    rows = []
    for i in range(1, 401):
        joined = dt.datetime(2021, 1, 1) + dt.timedelta(minutes=rng.randrange(0, 3 * 365 * 24 * 60))
        rows.append({
            "RiderID": 1000 + i,
            "JoinedAt": joined,
            "Plan": rng.choices(PLANS, weights=(5, 3, 2))[0],
            "BirthYear": None if rng.random() < 0.1 else rng.randrange(1950, 2007),
            "HomeBorough": rng.choice(BOROUGHS),
            "Email": None if rng.random() < 0.15 else f"rider{i}@{rng.choice(['mail.test', 'post.test', 'inbox.test'])}",
        })
    return rows


def _trips(rng: random.Random, n_stations: int, riders: list[dict]) -> list[dict]:
    rows = []
    start = dt.datetime(2024, 1, 1)
    for i in range(1, 6001):
        began = start + dt.timedelta(seconds=rng.randrange(0, 366 * 24 * 3600))
        bike = rng.choices(BIKES, weights=(6, 3, 1))[0]
        minutes = max(1, int(rng.expovariate(1 / (14 if bike == "electric" else 19))))
        fare = round(1.0 + minutes * (0.25 if bike == "electric" else 0.15) + (2.0 if bike == "cargo" else 0.0), 2)
        rows.append({
            "TripID": i,
            "RiderID": rng.choice(riders)["RiderID"],
            "StartStationID": rng.randrange(1, n_stations + 1),
            "EndStationID": rng.randrange(1, n_stations + 1),
            "StartedAt": began,
            "EndedAt": began + dt.timedelta(minutes=minutes, seconds=rng.randrange(0, 60)),
            "BikeType": bike,
            "FareUSD": fare,
            "PromoCode": rng.choice(PROMOS) if rng.random() < 0.12 else None,
        })
    return rows


def _tickets(rng: random.Random, n_stations: int) -> list[dict]:
    rows = []
    for i in range(1, 301):
        opened = dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randrange(0, 366 * 24 * 60))
        closed = None if rng.random() < 0.15 else opened + dt.timedelta(hours=rng.randrange(1, 24 * 12))
        rows.append({
            "TicketID": 5000 + i,
            "StationID": rng.randrange(1, n_stations + 1),
            "OpenedAt": opened,
            "ClosedAt": closed,
            "Priority": rng.choices((1, 2, 3), weights=(2, 5, 3))[0],
            "Issues": sorted(rng.sample(ISSUES, rng.randrange(1, 4))),
        })
    return rows


def _weather(rng: random.Random) -> list[dict]:
    rows = []
    for d in range(366):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=d)
        season = -8 * __import__("math").cos(2 * 3.14159 * (d - 15) / 366) + 11
        for borough in BOROUGHS:
            temp = round(season + rng.gauss(0, 3), 1)
            cond = "snow" if temp < 0 and rng.random() < 0.5 else rng.choices(CONDITIONS[:4], weights=(4, 4, 3, 0))[0]
            if rng.random() < 0.04:
                cond = "fog"
            rows.append({"Day": day, "Borough": borough, "TempC": temp,
                         "PrecipMM": round(rng.expovariate(0.4), 1) if cond in ("rain", "snow") else 0.0,
                         "Conditions": cond})
    return rows


def _schemas():
    import pyarrow as pa

    return {
        "Stations": pa.schema([("StationID", pa.int32()), ("StationName", pa.string()), ("Borough", pa.string()),
                               ("Docks", pa.int32()),
                               ("Location", pa.struct([("Lat", pa.float64()), ("Lon", pa.float64())])),
                               ("OpenedOn", pa.date32()), ("Amenities", pa.list_(pa.string()))]),
        "Riders": pa.schema([("RiderID", pa.int64()), ("JoinedAt", pa.timestamp("us")), ("Plan", pa.string()),
                             ("BirthYear", pa.int32()), ("HomeBorough", pa.string()), ("Email", pa.string())]),
        "Trips": pa.schema([("TripID", pa.int64()), ("RiderID", pa.int64()), ("StartStationID", pa.int32()),
                            ("EndStationID", pa.int32()), ("StartedAt", pa.timestamp("us")),
                            ("EndedAt", pa.timestamp("us")), ("BikeType", pa.string()), ("FareUSD", pa.float64()),
                            ("PromoCode", pa.string())]),
        "MaintenanceTickets": pa.schema([("TicketID", pa.int64()), ("StationID", pa.int32()),
                                         ("OpenedAt", pa.timestamp("us")), ("ClosedAt", pa.timestamp("us")),
                                         ("Priority", pa.int8()), ("Issues", pa.list_(pa.string()))]),
        "DailyWeather": pa.schema([("Day", pa.date32()), ("Borough", pa.string()), ("TempC", pa.float64()),
                                   ("PrecipMM", pa.float64()), ("Conditions", pa.string())]),
    }


def tables() -> dict[str, list[dict]]:
    """Every table's rows, generated from the fixed seed."""
    rng = random.Random(SEED)
    stations = _stations(rng)
    riders = _riders(rng)
    return {"Stations": stations, "Riders": riders, "Trips": _trips(rng, len(stations), riders),
            "MaintenanceTickets": _tickets(rng, len(stations)), "DailyWeather": _weather(rng)}


def connect():
    """An in-memory Ibis DuckDB backend holding the bike-share tables."""
    import ibis
    import pyarrow as pa

    con = ibis.duckdb.connect(":memory:")
    schemas = _schemas()
    for name, rows in tables().items():
        con.con.register("ibisbench_rows", pa.Table.from_pylist(rows, schema=schemas[name]))
        con.con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM ibisbench_rows')
        con.con.unregister("ibisbench_rows")
    return con

"""Six database schemas of different shapes, with data generated offline inside DuckDB.

The program generator needs more than TPC: event logs with timestamps, an e-commerce shop
with Mixed-Case and spaced names, wide tables with arrays/structs/JSON, a star schema, an HR
database with self-references and many nulls, and flights joined on string keys. Each column
carries a *role* the generator uses to pick sensible operations (measures are summed, keys
are joined, categories are grouped and compared with values that really occur).

Data come from ``range(n)`` and DuckDB's ``hash``, so a given seed always yields the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# column roles
KEY, FK, NUM, INT, CAT, TEXT, DATE, TS, BOOL, ARRAY, STRUCT, JSON = (
    "key", "fk", "num", "int", "cat", "text", "date", "ts", "bool", "array", "struct", "json",
)


@dataclass(frozen=True)
class Column:
    name: str
    role: str
    sql: str  # DuckDB expression over the row number ``i`` and helpers below
    values: tuple = ()  # categorical values that really occur
    nullable: bool = False
    noun: str = ""  # how people call it ("order date"); derived from the name when empty
    fields: tuple[str, ...] = ()  # struct fields / JSON keys

    @property
    def words(self) -> str:
        return self.noun or humanize(self.name)


@dataclass(frozen=True)
class Table:
    variable: str  # Python variable in the notebook
    name: str  # table name in the database
    rows: int
    columns: tuple[Column, ...]
    noun: str = ""

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.variable} has no column {name!r}")

    @property
    def words(self) -> str:
        return self.noun or humanize(self.variable)


@dataclass(frozen=True)
class Link:
    """A join path: left.left_col = right.right_col (many-to-one from left to right)."""

    left: str
    left_col: str
    right: str
    right_col: str


@dataclass(frozen=True)
class Schema:
    name: str
    shape: str
    tables: tuple[Table, ...]
    links: tuple[Link, ...] = field(default_factory=tuple)

    def table(self, variable: str) -> Table:
        for t in self.tables:
            if t.variable == variable:
                return t
        raise KeyError(f"schema {self.name} has no table {variable!r}")


def humanize(name: str) -> str:
    """``OrderDate`` / ``order_date`` / ``Ship Country`` → ``order date``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    words = [w.lower() if not w.isupper() or len(w) > 3 else w for w in spaced.split()]
    return " ".join(words).replace("i d", "id")


# ---- data helpers (DuckDB SQL over the row number i and the build seed {seed}) -------------
def _u(tag: str) -> str:
    """A uniform number in [0, 1) that depends on the row, the column tag and the seed."""
    return f"((hash(i, '{tag}', {{seed}}) % 1000003) / 1000003.0)"


def _pick(tag: str, values: tuple, nulls: float = 0.0) -> str:
    lst = "[" + ", ".join(_lit(v) for v in values) + "]"
    expr = f"{lst}[1 + (hash(i, '{tag}', {{seed}}) % {len(values)})::INT]"
    return _nullify(expr, tag, nulls)


def _lit(v) -> str:
    return "'" + str(v).replace("'", "''") + "'" if isinstance(v, str) else str(v)


def _nullify(expr: str, tag: str, nulls: float) -> str:
    return f"CASE WHEN {_u(tag + '#null')} < {nulls} THEN NULL ELSE {expr} END" if nulls else expr


def _num(tag: str, lo: float, hi: float, digits: int = 2, nulls: float = 0.0) -> str:
    return _nullify(f"round({lo} + {_u(tag)} * {hi - lo}, {digits})", tag, nulls)


def _int(tag: str, lo: int, hi: int, nulls: float = 0.0) -> str:
    return _nullify(f"({lo} + (hash(i, '{tag}', {{seed}}) % {hi - lo + 1}))::BIGINT", tag, nulls)


def _fk(tag: str, rows: int, nulls: float = 0.0) -> str:
    return _int(tag, 1, rows, nulls)


def _date(tag: str, start: str, days: int, nulls: float = 0.0) -> str:
    return _nullify(f"(DATE '{start}' + (hash(i, '{tag}', {{seed}}) % {days})::INT)", tag, nulls)


def _ts(tag: str, start: str, days: int, nulls: float = 0.0) -> str:
    return _nullify(
        f"(TIMESTAMP '{start}' + to_seconds((hash(i, '{tag}', {{seed}}) % ({days} * 86400))::BIGINT))", tag, nulls
    )


def _name(tag: str, words: tuple[str, ...], prefix: str = "") -> str:
    return f"'{prefix}' || {_pick(tag, words)} || ' ' || (i % 97)::VARCHAR"


COUNTRIES = ("US", "DE", "FR", "BR", "IN", "JP", "GB", "CA")
FIRST = ("Ada", "Linus", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Dennis", "Frances")
LAST = ("Lovelace", "Torvalds", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton")
CITIES = ("Berlin", "Lyon", "Austin", "Osaka", "Recife", "Pune", "Leeds", "Quebec")


def _events() -> Schema:
    users = Table("users", "users", 400, (
        Column("user_id", KEY, "i + 1"),
        Column("signup_at", TS, _ts("signup", "2023-01-01", 365)),
        Column("country", CAT, _pick("country", COUNTRIES), COUNTRIES),
        Column("plan", CAT, _pick("plan", ("free", "pro", "team"), 0.15), ("free", "pro", "team"), True),
        Column("referrer", TEXT, _nullify("'https://' || " + _pick("ref", ("search.example", "news.example", "friend.example")), "referrer", 0.4), (), True),
        Column("age", INT, _int("age", 16, 80, 0.1), (), True),
    ))
    events = Table("events", "events", 6000, (
        Column("event_id", KEY, "i + 1"),
        Column("user_id", FK, _fk("ev_user", 400)),
        Column("session_id", INT, _int("session", 1, 1500)),
        Column("event_at", TS, _ts("event_at", "2024-01-01", 180)),
        Column("event_type", CAT, _pick("etype", ("page_view", "click", "add_to_cart", "purchase", "logout")),
               ("page_view", "click", "add_to_cart", "purchase", "logout")),
        Column("page", CAT, _pick("page", ("/home", "/search", "/product", "/cart", "/checkout")),
               ("/home", "/search", "/product", "/cart", "/checkout")),
        Column("duration_ms", INT, _int("dur", 10, 60000, 0.1), (), True, "duration in milliseconds"),
        Column("revenue", NUM, _num("rev", 1, 500, 2, 0.7), (), True),
    ))
    sessions = Table("sessions", "sessions", 1500, (
        Column("session_id", KEY, "i + 1"),
        Column("user_id", FK, _fk("se_user", 400)),
        Column("started_at", TS, _ts("started", "2024-01-01", 180)),
        Column("device", CAT, _pick("device", ("ios", "android", "desktop", "tablet")), ("ios", "android", "desktop", "tablet")),
        Column("pages_viewed", INT, _int("pages", 1, 40)),
    ))
    return Schema("event_log", "event logs with timestamps (users, sessions, events)", (users, events, sessions), (
        Link("events", "user_id", "users", "user_id"),
        Link("sessions", "user_id", "users", "user_id"),
        Link("events", "session_id", "sessions", "session_id"),
    ))


def _shop() -> Schema:
    status = ("Pending", "Shipped", "Delivered", "Cancelled", "Returned")
    categories = ("Books", "Games", "Garden", "Kitchen", "Toys", "Audio")
    customers = Table("customers", "Customers", 500, (
        Column("CustomerID", KEY, "i + 1", noun="customer id"),
        Column("FirstName", TEXT, _pick("first", FIRST), FIRST, noun="first name"),
        Column("LastName", TEXT, _pick("last", LAST), LAST, noun="last name"),
        Column("Email", TEXT, _nullify("lower(" + _pick("first2", FIRST) + ") || (i + 1)::VARCHAR || '@mail.example'", "email", 0.1), (), True),
        Column("Country", CAT, _pick("ccountry", COUNTRIES), COUNTRIES),
        Column("Loyalty Tier", CAT, _pick("tier", ("Bronze", "Silver", "Gold"), 0.2), ("Bronze", "Silver", "Gold"), True, "loyalty tier"),
    ))
    orders = Table("orders", "Orders", 3000, (
        Column("OrderID", KEY, "i + 1", noun="order id"),
        Column("CustomerID", FK, _fk("o_cust", 500), noun="customer id"),
        Column("OrderDate", DATE, _date("odate", "2023-01-01", 730), noun="order date"),
        Column("ShippedAt", TS, _ts("shipped", "2023-01-05", 730, 0.25), (), True, "shipping time"),
        Column("Status", CAT, _pick("status", status), status),
        Column("Ship Country", CAT, _pick("shipc", COUNTRIES), COUNTRIES, noun="shipping country"),
    ))
    items = Table("order_items", "OrderItems", 8000, (
        Column("OrderID", FK, _fk("it_order", 3000), noun="order id"),
        Column("ProductID", FK, _fk("it_prod", 120), noun="product id"),
        Column("Quantity", INT, _int("qty", 1, 12)),
        Column("UnitPrice", NUM, _num("price", 2, 250), noun="unit price"),
        Column("Discount", NUM, _num("disc", 0, 0.3, 2, 0.5), (), True),
    ), noun="order lines")
    products = Table("products", "Products", 120, (
        Column("ProductID", KEY, "i + 1", noun="product id"),
        Column("ProductName", TEXT, _name("pname", ("Deluxe", "Mini", "Classic", "Smart", "Eco")), noun="product name"),
        Column("Category", CAT, _pick("cat", categories), categories),
        Column("ListPrice", NUM, _num("list", 2, 300), noun="list price"),
        Column("InStock", BOOL, f"{_u('stock')} < 0.8", noun="in stock flag"),
    ))
    return Schema("shop", "e-commerce with Mixed-Case and spaced names", (customers, orders, items, products), (
        Link("orders", "CustomerID", "customers", "CustomerID"),
        Link("order_items", "OrderID", "orders", "OrderID"),
        Link("order_items", "ProductID", "products", "ProductID"),
    ))


def _telemetry() -> Schema:
    models = ("T-100", "T-200", "X-9", "Z-Edge")
    metrics = ("temp_c", "humidity_pct", "pressure_hpa", "voltage_v", "current_a", "rpm", "vibration_mm",
               "noise_db", "co2_ppm", "pm25", "lux", "battery_pct", "signal_dbm", "cpu_pct", "mem_pct",
               "disk_pct", "flow_lpm", "torque_nm")
    devices = Table("devices", "devices", 200, (
        Column("device_id", KEY, "i + 1"),
        Column("model", CAT, _pick("model", models), models),
        Column("firmware", CAT, _pick("fw", ("1.0", "1.1", "2.0", "2.1")), ("1.0", "1.1", "2.0", "2.1")),
        Column("installed_on", DATE, _date("inst", "2021-01-01", 1000), noun="installation date"),
        Column("tags", ARRAY, "list_slice(['indoor', 'critical', 'beta', 'solar', 'legacy'], 1 + (hash(i, 'tg', {seed}) % 3)::INT, 1 + (hash(i, 'tg2', {seed}) % 5)::INT)",
               ("indoor", "critical", "beta", "solar", "legacy")),
        Column("location", STRUCT, "{'city': " + _pick("lcity", CITIES) + ", 'lat': " + _num("lat", -60, 60, 4) + ", 'lon': " + _num("lon", -180, 180, 4) + "}",
               CITIES, fields=("city", "lat", "lon")),
        Column("config", JSON, "json_object('mode', " + _pick("mode", ("eco", "normal", "turbo")) + ", 'interval_s', " + _int("ivl", 5, 300) + ")",
               ("eco", "normal", "turbo"), fields=("mode", "interval_s")),
    ))
    reading_cols = [
        Column("reading_id", KEY, "i + 1"),
        Column("device_id", FK, _fk("rd_dev", 200)),
        Column("read_at", TS, _ts("read", "2024-03-01", 60), noun="reading time"),
        Column("status", CAT, _pick("rstat", ("ok", "warn", "fail"), 0.05), ("ok", "warn", "fail"), True),
        Column("samples", ARRAY, f"[{_num('s1', 0, 10)}, {_num('s2', 0, 10)}, {_num('s3', 0, 10)}]"),
    ]
    for k, m in enumerate(metrics):
        reading_cols.append(Column(m, NUM, _num(m, 0, 100 + 50 * k, 2, 0.05 if k % 4 == 0 else 0.0), (), k % 4 == 0))
    readings = Table("readings", "readings", 4000, tuple(reading_cols), noun="sensor readings")
    return Schema("telemetry", "wide tables with arrays, structs and JSON", (devices, readings), (
        Link("readings", "device_id", "devices", "device_id"),
    ))


def _star() -> Schema:
    days = 730
    dim_date = Table("dim_date", "dim_date", days, (
        Column("date_key", KEY, "i + 1"),
        Column("full_date", DATE, "DATE '2023-01-01' + i::INT", noun="calendar date"),
        Column("year", INT, "year(DATE '2023-01-01' + i::INT)"),
        Column("quarter", INT, "quarter(DATE '2023-01-01' + i::INT)"),
        Column("month_name", CAT, "monthname(DATE '2023-01-01' + i::INT)", ("January", "March", "June", "December"), noun="month name"),
        Column("is_weekend", BOOL, "dayofweek(DATE '2023-01-01' + i::INT) IN (0, 6)", noun="weekend flag"),
    ), noun="dates")
    stores = Table("dim_store", "dim_store", 40, (
        Column("store_key", KEY, "i + 1"),
        Column("store_name", TEXT, _name("sname", ("Main St", "Harbor", "Mall", "Airport")), noun="store name"),
        Column("city", CAT, _pick("scity", CITIES), CITIES),
        Column("region", CAT, _pick("region", ("North", "South", "East", "West")), ("North", "South", "East", "West")),
        Column("opened_on", DATE, _date("sopen", "2010-01-01", 4000), noun="opening date"),
        Column("sqft", INT, _int("sqft", 800, 20000), noun="floor area"),
    ), noun="stores")
    products = Table("dim_product", "dim_product", 150, (
        Column("product_key", KEY, "i + 1"),
        Column("sku", TEXT, "'SKU-' || lpad((i + 1)::VARCHAR, 5, '0')"),
        Column("brand", CAT, _pick("brand", ("Acme", "Globex", "Initech", "Umbrella")), ("Acme", "Globex", "Initech", "Umbrella")),
        Column("category", CAT, _pick("pcat", ("Snacks", "Drinks", "Dairy", "Bakery", "Frozen")), ("Snacks", "Drinks", "Dairy", "Bakery", "Frozen")),
        Column("unit_cost", NUM, _num("ucost", 0.5, 20)),
    ), noun="products")
    promos = Table("dim_promo", "dim_promo", 12, (
        Column("promo_key", KEY, "i + 1"),
        Column("promo_name", TEXT, "'Promo ' || (i + 1)::VARCHAR", noun="promotion name"),
        Column("discount_pct", NUM, _num("dpct", 5, 50, 0)),
        Column("channel", CAT, _pick("chan", ("email", "tv", "social", "in-store")), ("email", "tv", "social", "in-store")),
    ), noun="promotions")
    fact = Table("fact_sales", "fact_sales", 10000, (
        Column("sale_id", KEY, "i + 1"),
        Column("date_key", FK, _fk("f_date", days)),
        Column("store_key", FK, _fk("f_store", 40)),
        Column("product_key", FK, _fk("f_prod", 150)),
        Column("promo_key", FK, _fk("f_promo", 12, 0.6), (), True),
        Column("units", INT, _int("units", 1, 30)),
        Column("revenue", NUM, _num("frev", 1, 400)),
        Column("cost", NUM, _num("fcost", 0.5, 250)),
    ), noun="sales")
    return Schema("retail_star", "star schema (one fact table, four dimensions)", (fact, dim_date, stores, products, promos), (
        Link("fact_sales", "date_key", "dim_date", "date_key"),
        Link("fact_sales", "store_key", "dim_store", "store_key"),
        Link("fact_sales", "product_key", "dim_product", "product_key"),
        Link("fact_sales", "promo_key", "dim_promo", "promo_key"),
    ))


def _hr() -> Schema:
    titles = ("Engineer", "Senior Engineer", "Manager", "Analyst", "Designer", "Director")
    employees = Table("employees", "employees", 300, (
        Column("emp_id", KEY, "i + 1", noun="employee id"),
        Column("full_name", TEXT, _pick("efirst", FIRST) + " || ' ' || " + _pick("elast", LAST), noun="name"),
        Column("email", TEXT, _nullify("'e' || (i + 1)::VARCHAR || '@corp.example'", "eemail", 0.2), (), True),
        Column("dept_id", FK, _fk("edept", 8, 0.05), (), True, "department id"),
        Column("manager_id", FK, _nullify("CASE WHEN i < 10 THEN NULL ELSE 1 + (hash(i, 'mgr', {seed}) % 10)::BIGINT END", "mgrn", 0.0), (), True, "manager id"),
        Column("hire_date", DATE, _date("hire", "2012-01-01", 4300)),
        Column("salary", NUM, _num("salary", 40000, 180000, 0)),
        Column("title", CAT, _pick("title", titles), titles),
        Column("is_remote", BOOL, f"{_u('remote')} < 0.35", noun="remote flag"),
        Column("termination_date", DATE, _date("term", "2020-01-01", 1800, 0.8), (), True),
    ))
    departments = Table("departments", "departments", 8, (
        Column("dept_id", KEY, "i + 1", noun="department id"),
        Column("dept_name", CAT, "['Sales', 'Research', 'Support', 'Finance', 'Legal', 'Ops', 'Marketing', 'People'][i + 1]",
               ("Sales", "Research", "Support", "Finance", "Legal", "Ops", "Marketing", "People"), noun="department name"),
        Column("location", CAT, _pick("dloc", CITIES), CITIES),
        Column("budget", NUM, _num("budget", 1e5, 5e6, 0)),
    ))
    projects = Table("projects", "projects", 60, (
        Column("project_id", KEY, "i + 1"),
        Column("dept_id", FK, _fk("pdept", 8)),
        Column("project_name", TEXT, "'Project ' || " + _pick("pn", ("Atlas", "Boreal", "Cobalt", "Delta", "Ember")) + " || '-' || (i + 1)::VARCHAR", noun="project name"),
        Column("start_date", DATE, _date("pstart", "2022-01-01", 700)),
        Column("end_date", DATE, _date("pend", "2023-06-01", 700, 0.3), (), True),
        Column("status", CAT, _pick("pstat", ("planned", "active", "done", "paused")), ("planned", "active", "done", "paused")),
    ))
    assignments = Table("assignments", "assignments", 900, (
        Column("emp_id", FK, _fk("aemp", 300)),
        Column("project_id", FK, _fk("aproj", 60)),
        Column("hours", NUM, _num("hours", 1, 60, 1)),
        Column("role", CAT, _pick("arole", ("lead", "member", "reviewer")), ("lead", "member", "reviewer")),
    ), noun="project assignments")
    return Schema("hr", "HR database with a self-referencing manager key and many nulls", (employees, departments, projects, assignments), (
        Link("employees", "dept_id", "departments", "dept_id"),
        Link("employees", "manager_id", "employees", "emp_id"),
        Link("projects", "dept_id", "departments", "dept_id"),
        Link("assignments", "emp_id", "employees", "emp_id"),
        Link("assignments", "project_id", "projects", "project_id"),
    ))


def _flights() -> Schema:
    codes = ("AMS", "BOS", "CDG", "DEN", "FRA", "GRU", "HND", "JFK", "LHR", "SFO", "YUL", "BOM")
    carriers = ("AA", "BA", "LH", "AF", "JL", "DL")
    airports = Table("airports", "airports", len(codes), (
        Column("code", KEY, "[" + ", ".join(f"'{c}'" for c in codes) + "][i + 1]", codes, noun="airport code"),
        Column("airport_name", TEXT, "[" + ", ".join(f"'{c} International'" for c in codes) + "][i + 1]", noun="airport name"),
        Column("country", CAT, _pick("acountry", COUNTRIES), COUNTRIES),
        Column("elevation_ft", INT, _int("elev", 0, 5500), noun="elevation in feet"),
    ))
    flights = Table("flights", "flights", 5000, (
        Column("flight_id", KEY, "i + 1"),
        Column("carrier", CAT, _pick("carrier", carriers), carriers),
        Column("origin", FK, _pick("origin", codes), codes),
        Column("dest", FK, _pick("dest", codes), codes, noun="destination"),
        Column("sched_dep", TS, _ts("sdep", "2024-05-01", 120), noun="scheduled departure"),
        Column("dep_delay_min", INT, _int("ddelay", -10, 240, 0.08), (), True, "departure delay in minutes"),
        Column("arr_delay_min", INT, _int("adelay", -20, 260, 0.1), (), True, "arrival delay in minutes"),
        Column("distance_km", INT, _int("dist", 300, 11000), noun="distance in km"),
        Column("cancelled", BOOL, f"{_u('cancel')} < 0.04", noun="cancelled flag"),
    ))
    return Schema("flights", "flights joined to airports on string codes", (flights, airports), (
        Link("flights", "origin", "airports", "code"),
        Link("flights", "dest", "airports", "code"),
    ))


def all_schemas() -> tuple[Schema, ...]:
    return (_events(), _shop(), _telemetry(), _star(), _hr(), _flights())


def create_tables(con, schema: Schema, seed: int, scale: float = 1.0) -> None:
    """Create and fill ``schema``'s tables in a raw ``duckdb`` connection."""
    for table in schema.tables:
        rows = max(5, int(table.rows * scale)) if table.rows > 50 else table.rows
        select = ", ".join(c.sql.replace("{seed}", str(int(seed))) + f' AS "{c.name}"' for c in table.columns)
        con.execute(f'CREATE OR REPLACE TABLE "{table.name}" AS SELECT {select} FROM range({rows}) AS r(i)')


def connect(schema: Schema, seed: int, scale: float = 1.0):
    """An in-memory Ibis DuckDB backend holding ``schema``'s generated data, and its tables."""
    import ibis

    con = ibis.duckdb.connect(threads=1)  # one thread: float aggregates are reproducible bit for bit
    create_tables(con.con, schema, seed, scale)
    return con, {t.variable: con.table(t.name) for t in schema.tables}

"""The embedded demo: a TPC-H DuckDB database and a notebook that tours every feature."""

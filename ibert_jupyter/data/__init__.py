"""Data sources: TPC-H/TPC-DS data from the duckdb extension wheels, queries from the ibis wheel."""

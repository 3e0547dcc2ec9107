"""Offline tuning of retrieval: ranking weights fitted on dev queries, scored with the shared metrics."""

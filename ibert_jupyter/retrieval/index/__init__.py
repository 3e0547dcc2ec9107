"""Stage 3 of retrieval: build, store and check the on-disk index of the installed Ibis."""

"""``anycrew bench``: the benchmark runner, on the offline simulator.

Layout: one module per scenario (``overhead``, ``fanout``, ``chain``, ``events``,
``cancel``, ``threads``), each with an ``async def run(settings) -> list[Figure]``
that measures on the running backend; ``_common`` holds the shared timing helpers
and crew builders; ``runner`` parses the command line, runs the scenarios on each
backend (one child process per backend, so peak RSS and thread counts are its own)
and prints the table or writes the JSON document.

Nothing here is imported by ``import anycrew``; ``python -m anycrew bench`` imports
it on demand.
"""

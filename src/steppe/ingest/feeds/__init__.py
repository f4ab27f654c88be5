"""Feeds: fetching, reading and pulling the sources registered in :mod:`steppe.intel.feeds`.

:mod:`.fetch` gets the bytes (HTTP with ETag / If-Modified-Since, or a local file),
:mod:`.sources` reads them with :mod:`steppe.ingest.intel`'s readers, :mod:`.pull` stores
them and records the outcome, :mod:`.scheduler` pulls what is due in the background.
"""

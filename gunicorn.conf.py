"""gunicorn's settings for the web service. gunicorn reads ./gunicorn.conf.py from its working
directory (/app in the image, see Dockerfile and docker-compose.yml); flags on the command line
override these values.

- Two worker processes of four threads each by default (``WEB_CONCURRENCY`` and
  ``GUNICORN_THREADS`` change them): the shape docs/benchmarks/booking.md measures.
- Each worker freezes the objects of the loaded application out of the garbage collector
  (``gc.freeze()``, as the Python documentation suggests for pre-forking servers). A full
  collection otherwise walks Django's ~120,000 long-lived objects again and again, about 80 ms on
  our 2-core machine, which lands on whichever request happens to trigger it
  (docs/benchmarks/quality.md, "Worklist page").
"""

import gc
import os
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))


def post_worker_init(worker: Any) -> None:
    """After the worker has loaded the application: move what exists now (modules, URL
    patterns, templates, translations) to the collector's permanent generation."""
    gc.collect()
    gc.freeze()

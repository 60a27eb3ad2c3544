"""Data-exchange imports (CONTRACTS §1-2): the ``import_records`` command's machinery.

- :mod:`cloud_management.imports.registry`: the :class:`ImportKind` base class and the registry
  that later apps add their kinds to from their ``AppConfig.ready()``;
- :mod:`cloud_management.imports.rows`: a data row and the cell parsers a kind builds on;
- :mod:`cloud_management.imports.reader`: reading the CSV file and checking its header;
- :mod:`cloud_management.imports.writers`: the PostgreSQL fast path and the portable path;
- :mod:`cloud_management.imports.service`: validate every row, then write in one transaction;
- :mod:`cloud_management.imports.registry_kinds`: ``institutions``, ``patients``,
  ``contracts`` and ``enrolments``.
"""

"""The demo community behind ``manage.py seed_demo``.

- ``names``, ``places``: Chinese personal names and Tianjin places (data).
- ``catalogue``: the institutions, full (266) and small (~30).
- ``generate``: residents, contracts and enrolments as plain rows, deterministic.
- ``bulk``: writing those rows, portable (ORM) or fast (PostgreSQL COPY).
- ``staff``: demo logins and institution staff.
- ``steps``, ``small``, ``tianjin``, ``runner``: each scale as a list of steps.
"""

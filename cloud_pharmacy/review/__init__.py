"""The prescription review engine (处方审核), local and offline.

Each rule class is one module with a pure function ``check(snapshot) -> list[Finding]`` over a
:class:`cloud_pharmacy.review.snapshot.PrescriptionSnapshot`; :mod:`cloud_pharmacy.review.engine`
loads the snapshot in a fixed number of queries and runs every rule. The data the rules read
(maximum doses, contraindications, interaction pairs) lives in the formulary tables.
"""

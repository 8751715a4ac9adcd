"""Vault objects over HTTP, and the object jobs on them.

Modules: :mod:`.catalogs` (the stored catalog and Execute MDL), :mod:`.access` (who may read and write
what), :mod:`.records` (record values in and out of the store, and the bulk record operations),
:mod:`.tables` (CSV and JSON request bodies and CSV answers), :mod:`.trees` (walking parent/child
trees for the jobs), :mod:`.deep_copy` and :mod:`.cascade_delete` (the processors and their result
links), :mod:`.routes` (the endpoints). The object layer itself (metadata, MDL) is
:mod:`vaultjobs.objects`; this package puts it on the store and the API.
"""

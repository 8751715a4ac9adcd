"""The embedded content repository: documents, versions, renditions, binders, file staging.

:mod:`~vaultjobs.content.repository` holds the rules, :mod:`~vaultjobs.content.files` the bytes on
disk, :mod:`~vaultjobs.content.models` the records; the SQL is in
:mod:`vaultjobs.store.content`.
"""

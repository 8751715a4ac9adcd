"""Vault packages on the store: Import, Validate and Deploy Package.

Modules: :mod:`.checks` (a package against this vault: bad, blocked, not supported), :mod:`.inbound`
(packages as ``vault_package__v`` records and their files), :mod:`.service` (import and validation),
:mod:`.import_job` and :mod:`.deploy` (the two jobs), :mod:`.logs` (Validation.log and
Deployment.log), :mod:`.payloads` (the answers) and :mod:`.routes` (the endpoints). The file format
itself is :mod:`vaultjobs.packages`.
"""

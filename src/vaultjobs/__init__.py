"""vaultjobs: a job service that speaks the Veeva Vault Jobs REST API."""

__version__ = "0.1.0"

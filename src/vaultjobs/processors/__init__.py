"""The processors that ship with vaultjobs."""

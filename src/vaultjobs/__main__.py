from vaultjobs.cli import main

main()

"""`python -m kalinsky_cli ...` is `kalinsky ...` (background renders start this way)."""

from kalinsky_cli.main import main

main()

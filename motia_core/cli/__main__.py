"""`python -m motia_core.cli`: the same as the `motia` command."""

from motia_core.cli.main import main

main()

"""``python -m transmodal`` runs the command line."""

from transmodal.cli import main

main()

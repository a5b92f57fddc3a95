"""`python -m ganfix …` (and `torchrun … -m ganfix …`): the same entry point as the `ganfix` command."""
from .cli.app import main

main()

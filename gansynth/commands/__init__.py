"""The `gansynth` subcommands: one module per area, each with `register(subparsers)`. The top
layer of the package: commands parse arguments, call the library, print, and name flags in their
messages; nothing in the library imports them. `gansynth.cli` assembles them."""

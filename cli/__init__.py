"""The command line of Sewa Mitra Twin: one module per command, all argparse and printing.

Each command module exposes ``add_arguments(parser, command)`` and ``run(args, command) -> int``
and is listed in ``run_sim.COMMANDS``.  The model (``sim/``) never parses arguments or prints.
"""

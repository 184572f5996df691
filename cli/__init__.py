"""The ``crmkit`` command line (Click): ``crmkit.cli.main:main`` is the console script."""

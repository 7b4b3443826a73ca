"""``python -m prodserver`` runs the same command line as the ``prodserver`` script."""

from prodserver.cli.main import entrypoint

if __name__ == "__main__":
    entrypoint()

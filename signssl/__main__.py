"""``python -m signssl`` = the ``signssl`` command."""

from signssl.cli.main import main

if __name__ == "__main__":
    main()

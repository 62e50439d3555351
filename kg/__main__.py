"""`python -m kg` runs the same CLI as the `kg` script."""

from kg.cli import main

if __name__ == "__main__":  # not when a worker process (kg serve's query pool) imports it
    main()

"""battery-kg: a knowledge graph of regional battery industry ecosystems in Korea."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("battery-kg")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

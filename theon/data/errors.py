"""Errors of theon.data: bad files, bad downloads and data sets that cannot be found."""
from ..errors import TheonError


class DataFormatError(TheonError, ValueError):
    """A data file that is truncated, corrupt or not in the format its reader expects."""


class ChecksumError(TheonError, ValueError):
    """Downloaded data whose SHA-256 differs from the one theon knows for that file."""


class DatasetNotFoundError(TheonError, FileNotFoundError):
    """A data set that is in none of the places theon searches and could not be fetched."""

"""The project's own exception types. Errors a user can cause are raised as these; the CLI turns
them into one line on stderr and a non-zero exit."""


class GansynthError(Exception):
    """Base class for every error a user can cause (bad input, bad config, bad file)."""


class ConfigError(GansynthError):
    """A configuration value or file is invalid."""


class BadInputError(GansynthError):
    """An input file (audio, MIDI, dataset, checkpoint) is missing, corrupt or out of range."""

"""The one exception type a user sees: a clear message, never a traceback."""


class PystanModelsError(Exception):
    """An error the user can act on (bad data, bad option, Stan compile error)."""


class DataError(PystanModelsError):
    """A data file or data value that does not fit the model."""


class CmdStanError(PystanModelsError):
    """CmdStan could not be found, installed, or run."""


class StanCompileError(PystanModelsError):
    """stanc or the C++ compiler rejected a Stan program."""

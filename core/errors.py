"""The one exception type users see: a bad input, named with its fix."""


class LayerPipeError(ValueError):
    """Raised for bad user input (network files, options, tables).

    The message is one line that names the offending field and says how to fix it;
    the command line prints it as ``error: <message>`` and exits with status 2.
    """

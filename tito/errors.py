"""The two ways a tito command fails on purpose; `tito.main` turns them into exit codes."""


class TitoError(Exception):
    """A command could not do its job (a failing check, a broken file): exit code 1."""


class UsageError(TitoError):
    """A command-line argument is wrong: exit code 2, like argparse's own errors.

    The message names the argument, what was expected and what came, so the learner can fix
    the command without reading tito's source.
    """

"""The one error type for user mistakes (bad config, paths, weights, block files, names).

The CLIs turn it into a single ``error: ...`` line on stderr and exit code 2.
"""


class UserError(Exception):
    """A mistake the user can fix; its message is one line naming the file, key or value."""

"""The project's own errors: each message says what is wrong and how to fix it."""


class PipelineError(Exception):
    """A problem the user can fix: bad params, bad input data, no reachable source."""


class ParamsError(PipelineError):
    """params.yaml holds a value a stage cannot use."""


class DataError(PipelineError):
    """An input file is missing or malformed."""


class DownloadError(PipelineError):
    """No source delivered a file with the expected checksum."""


class ExportError(PipelineError):
    """An exported format does not predict what the trained model predicts."""

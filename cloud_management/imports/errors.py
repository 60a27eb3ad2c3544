"""What stops an import as a whole. Each message is one line, never holding a whole resident ID."""


class RecordImportError(Exception):
    """An import that cannot start or cannot finish; nothing was written."""


class UnknownImportKind(RecordImportError):
    """The KIND argument names no registered import kind."""


class ImportFileError(RecordImportError):
    """The file cannot be read as the kind's CSV: missing, empty, not UTF-8, bad header."""


class ImportWriteError(RecordImportError):
    """The database refused the validated rows (a concurrent change, say)."""

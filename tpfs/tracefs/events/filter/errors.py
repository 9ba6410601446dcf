"""What a refused filter says: ``err_text[]``, its codes, and the filter file's error text.

The kernel's ``filter_parse_error`` keeps a code and a position; a failed write
shows the filter, a caret under the position and the code's text
(``append_filter_err``), and the error log gets the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``err_text[]``: a parse error's code is its index here.
ERRORS = (
    "No error", "Invalid operator", "Too many '('", "Too few '('", "Missing matching quote",
    "Missing '{'", "Missing '}'", "Operand too long", "Expecting string field",
    "Expecting numeric field", "Illegal operation for field type", "Field not found",
    "Illegal integer value", "Couldn't find or set field in one of a subsystem's events",
    "Too many terms in predicate expression", "Meaningless filter expression",
    "Invalid cpulist", "Only 'ip' field is supported for function trace",
    "Invalid value (did you forget quotes)?", "Function not found", "Error", "No filter found",
)
(INVALID_OP, TOO_MANY_OPEN, TOO_MANY_CLOSE, MISSING_QUOTE, MISSING_BRACE_OPEN,
 MISSING_BRACE_CLOSE, OPERAND_TOO_LONG, EXPECT_STRING, EXPECT_DIGIT, ILLEGAL_FIELD_OP,
 FIELD_NOT_FOUND, ILLEGAL_INTVAL, BAD_SUBSYS_FILTER, TOO_MANY_PREDS) = range(1, 15)
INVALID_CPULIST, INVALID_VALUE, NO_FUNCTION, ERRNO, NO_FILTER = 16, 18, 19, 20, 21

@dataclass(frozen=True, slots=True)
class FilterError:
    """A refused filter: the write's errno, the ``ERRORS`` code (0: none) and the caret."""

    errno: int
    code: int
    pos: int

    @property
    def message(self) -> str:
        """What the error log says."""
        return ERRORS[self.code or ERRNO]

    def show(self, expr: str) -> str:
        """The filter file's text after the failed write (``append_filter_err``)."""
        if not self.code:
            return f"{expr}\nError: (0)\n"
        pos = min(self.pos, len(expr))
        pos += pos > 0  # "indexing is off by one"
        return f"{expr}\n{'^':>{pos}}\nparse_error: {ERRORS[self.code]}\n"

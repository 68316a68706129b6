"""Load, validate and type the YAML documents (pure core: parses bytes it is given).

Files are parsed by a strict YAML loader (``yaml_loader``), checked against the JSON Schemas
in ``schemas/`` (``schema_check``), checked across fields and typed (``convert``), one file at
a time (``parse``) or as the rules of a whole repository (``rules``). Every failure is a
``DocumentError`` listing ``Problem``s that name file, line, field and fix, never a value.
"""

from controller.documents.convert import parse_duration
from controller.documents.locations import FieldPath, LineMap, render_path
from controller.documents.parse import (
    DOCUMENT_KINDS,
    Document,
    Located,
    parse_changes,
    parse_document_file,
    parse_environment,
    parse_located,
    parse_policy,
)
from controller.documents.rules import ChangeLines, Rules, check_changes, parse_rules
from controller.documents.rules_digest import rules_digest
from controller.documents.schema_check import PLAINTEXT_MESSAGE, schema_for
from controller.documents.sealed import SEALED_PREFIX, is_sealed, sealed_key_id
from controller.documents.yaml_loader import (
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_NODES,
)

__all__ = [
    "DOCUMENT_KINDS",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "PLAINTEXT_MESSAGE",
    "SEALED_PREFIX",
    "ChangeLines",
    "Document",
    "FieldPath",
    "LineMap",
    "Located",
    "Rules",
    "check_changes",
    "is_sealed",
    "parse_changes",
    "parse_document_file",
    "parse_duration",
    "parse_environment",
    "parse_located",
    "parse_policy",
    "parse_rules",
    "render_path",
    "rules_digest",
    "schema_for",
    "sealed_key_id",
]

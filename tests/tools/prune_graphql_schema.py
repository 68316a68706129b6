"""Cut GitHub's public GraphQL schema down to what sealgate's documents use.

    python -m tests.tools.prune_graphql_schema FULL_SCHEMA.graphql \\
        controller/sandbox/github_server/graphql/schema.graphql

FULL_SCHEMA.graphql is ``schema.graphql`` of github.com/octokit/graphql-schema at the commit
in `SOURCE_COMMIT` (update the constant when you take a newer one). What is kept:

- every field (and argument) the documents of `controller.github.graph_documents` select,
  found by walking them against the full schema, plus `EXTRA_FIELDS` / `EXTRA_ARGUMENTS`
  (what the loopback also answers: cursors, counts, names);
- every required argument of a kept field;
- the types those reach: input objects and enums whole, scalars, interfaces with the fields
  kept on them (each implementation keeps them too) and only the kept implementations;
- the directive definitions the kept parts use.

Definitions and descriptions are GitHub's, printed from the parsed schema: nothing is
written by hand, so the loopback validates a document exactly as GitHub would, as far as
the subset goes (a field outside it is "unknown", never silently answered).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    FieldNode,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    Node,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_ast_schema,
    parse,
    print_ast,
    visit,
)

from controller.github.graph_documents import pull_query, report_mutation

SOURCE_REPO = "github.com/octokit/graphql-schema"
SOURCE_FILE = "schema.graphql"
SOURCE_COMMIT = "82ff2d4780080e6929ebb95608cefa22dfa05ac7"

FieldFinder = Callable[[str, str], FieldDefinitionNode]
PAGED = ("first", "after")
CONNECTION = ("nodes", "pageInfo", "totalCount")

EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "Repository": ("id", "nameWithOwner", "defaultBranchRef", "pullRequest", "label"),
    "Ref": ("name", "target"),
    "Label": ("id", "name"),
    "PageInfo": ("hasNextPage", "endCursor"),
    "PullRequestReviewConnection": CONNECTION,
    "IssueCommentConnection": CONNECTION,
    "LabelConnection": CONNECTION,
    "TeamMemberConnection": CONNECTION,
    # An interface needs a field of its own; `labels` is the one every Labelable has.
    "Labelable": ("labels",),
    "Bot": ("login",),
    "User": ("login",),
    "UpdateIssueCommentPayload": ("clientMutationId",),
    "AddLabelsToLabelablePayload": ("clientMutationId",),
    "RemoveLabelsFromLabelablePayload": ("clientMutationId",),
}
EXTRA_ARGUMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("PullRequest", "reviews"): PAGED,
    ("PullRequest", "comments"): PAGED,
    ("PullRequest", "labels"): PAGED,
    ("Labelable", "labels"): PAGED,
    ("Team", "members"): PAGED,
}


def example_documents() -> list[str]:
    """Every shape of document `graph_documents` builds (teams, labels, each mutation)."""
    pull = pull_query("o", "r", 1, teams=["o/t", "o/u"], labels=["l1", "l2"])
    report = report_mutation(comment=("c", "b"), labelable="p", add=["a"], remove=["r"])
    assert report is not None
    return [pull.document, report.document]


class _Collect(Visitor):
    def __init__(self, info: TypeInfo, found: dict[tuple[str, str], set[str]]) -> None:
        super().__init__()
        self.info = info
        self.found = found

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.info.get_parent_type()
        if parent is None or node.name.value.startswith("__"):
            return
        key = (parent.name, node.name.value)
        self.found.setdefault(key, set()).update(a.name.value for a in node.arguments or ())


def used(schema: GraphQLSchema, documents: Iterable[str]) -> dict[tuple[str, str], set[str]]:
    """(type, field) -> the argument names the documents pass to it."""
    found: dict[tuple[str, str], set[str]] = {}
    for text in documents:
        info = TypeInfo(schema)
        visit(parse(text), TypeInfoVisitor(info, _Collect(info, found)))
    return found


def _snapshot(fields: dict[str, dict[str, set[str]]]) -> str:
    return repr(
        sorted((t, sorted((f, sorted(a)) for f, a in v.items())) for t, v in fields.items())
    )


def _named_types(node: Node) -> set[str]:
    names: set[str] = set()

    class Names(Visitor):
        def enter_named_type(self, named: NamedTypeNode, *_: object) -> None:
            names.add(named.name.value)

    visit(node, Names())
    return names


def _directives(node: Node) -> set[str]:
    names: set[str] = set()

    class Names(Visitor):
        def enter_directive(self, directive: Node, *_: object) -> None:
            names.add(directive.name.value)  # type: ignore[attr-defined]

    visit(node, Names())
    return names


def prune(full_sdl: str) -> tuple[str, dict[str, list[str]]]:
    """The subset's SDL (without header) and the kept fields per type."""
    document = parse(full_sdl)
    schema = build_ast_schema(document, assume_valid_sdl=True)
    definitions: dict[str, TypeDefinitionNode] = {}
    directives: dict[str, DirectiveDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            directives[definition.name.value] = definition
        elif isinstance(definition, TypeDefinitionNode):
            # The first definition wins, as building the schema does with the duplicate.
            definitions.setdefault(definition.name.value, definition)

    fields: dict[str, dict[str, set[str]]] = {}
    for (type_name, field_name), args in used(schema, example_documents()).items():
        fields.setdefault(type_name, {}).setdefault(field_name, set()).update(args)
    for type_name, names in EXTRA_FIELDS.items():
        for name in names:
            fields.setdefault(type_name, {}).setdefault(name, set())
    for (type_name, field_name), extra in EXTRA_ARGUMENTS.items():
        fields.setdefault(type_name, {}).setdefault(field_name, set()).update(extra)

    def field_node(type_name: str, name: str) -> FieldDefinitionNode:
        node = definitions[type_name]
        for candidate in getattr(node, "fields", None) or ():
            if candidate.name.value == name:
                return candidate  # type: ignore[no-any-return]
        raise KeyError(f"{type_name}.{name} is not in the full schema")

    def interfaces_of(type_name: str) -> list[str]:
        node = definitions[type_name]
        return [i.name.value for i in getattr(node, "interfaces", None) or ()]

    while True:
        before = _snapshot(fields)
        kept = _reached(definitions, fields, field_node)
        # An implementation keeps every field its kept interfaces keep, with their arguments.
        for type_name in list(kept):
            for interface in interfaces_of(type_name):
                for name, args in fields.get(interface, {}).items():
                    if interface in kept:
                        fields.setdefault(type_name, {}).setdefault(name, set()).update(args)
                        fields[interface][name].update(fields[type_name][name])
        after = _snapshot(fields)
        if after == before:
            break

    out: list[TypeDefinitionNode] = []
    used_directives: set[str] = set()
    for definition in document.definitions:
        if not isinstance(definition, TypeDefinitionNode):
            continue
        name = definition.name.value
        if name not in kept or definitions[name] is not definition:
            continue
        node = _cut(definition, fields.get(name, {}), kept)
        used_directives |= _directives(node)
        out.append(node)
    heads = [directives[d] for d in sorted(used_directives) if d in directives]
    text = print_ast(DocumentNode(definitions=(*heads, *out)))
    listing = {t: sorted(f) for t, f in sorted(fields.items()) if t in kept}
    return text + "\n", listing


def _reached(
    definitions: dict[str, TypeDefinitionNode],
    fields: dict[str, dict[str, set[str]]],
    find: FieldFinder,
) -> set[str]:
    """Every type the kept fields, their kept arguments and whole input objects reach."""
    kept: set[str] = set()
    todo = ["Query", "Mutation", *fields]
    while todo:
        name = todo.pop()
        if name in kept or name not in definitions:
            continue
        kept.add(name)
        node = definitions[name]
        if isinstance(node, InputObjectTypeDefinitionNode):
            todo += sorted(_named_types(node))
            continue
        if not isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            continue
        for field_name, args in fields.get(name, {}).items():
            definition = find(name, field_name)
            todo += sorted(_named_types(definition.type))
            for arg in definition.arguments or ():
                if arg.name.value in args or _required(arg):
                    todo += sorted(_named_types(arg.type))
    return kept


def _required(arg: Node) -> bool:
    return arg.type.kind == "non_null_type" and arg.default_value is None  # type: ignore[attr-defined]


def _cut(
    definition: TypeDefinitionNode,
    keep: dict[str, set[str]],
    kept: set[str],
) -> TypeDefinitionNode:
    if isinstance(definition, EnumTypeDefinitionNode | ScalarTypeDefinitionNode):
        return definition
    if isinstance(definition, InputObjectTypeDefinitionNode):
        return definition
    assert isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode)
    cut_fields = []
    for field in definition.fields or ():
        args = keep.get(field.name.value)
        if args is None:
            continue
        arguments = tuple(a for a in field.arguments or () if a.name.value in args or _required(a))
        cut_fields.append(_copy(field, arguments=arguments))
    interfaces = tuple(i for i in definition.interfaces or () if i.name.value in kept)
    return _copy(definition, fields=tuple(cut_fields), interfaces=interfaces)


N = TypeVar("N", bound=Node)


def _copy(node: N, **changes: object) -> N:
    values = {key: getattr(node, key) for key in node.keys}
    values.update(changes)
    return type(node)(**values)


def header(listing: dict[str, list[str]]) -> str:
    lines = [
        "# A subset of GitHub's public GraphQL schema: what the loopback GitHub serves.",
        f"# Source: {SOURCE_REPO}, file {SOURCE_FILE}, commit {SOURCE_COMMIT}.",
        "# Generated by tests/tools/prune_graphql_schema.py; never edit by hand. To regenerate:",
        "#   python -m tests.tools.prune_graphql_schema <full schema.graphql> \\",
        "#       controller/sandbox/github_server/graphql/schema.graphql",
        "# Kept fields (with the types, input objects, enums and scalars they reach):",
    ]
    for type_name, names in listing.items():
        lines.append(f"#   {type_name}: {' '.join(names)}")
    return "\n".join(lines) + "\n\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    text, listing = prune(source.read_text(encoding="utf-8"))
    target.write_text(header(listing) + text, encoding="utf-8")
    print(f"{target}: {len(text)} characters, {len(listing)} types with kept fields")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The GraphQL documents sealgate sends to GitHub: one read per decision, one write per report.

A decision needs the pull request, its reviews, its comments, where its base branch stands
and the members of the teams its policies name. Over REST those are five or more requests,
each a round trip and most of them charged to the rate limit; GraphQL answers all of them in
one. The same goes for a report: the sticky comment and the ``sealgate:*`` labels are one
mutation document (GitHub runs its mutations in order and answers each by its alias).

Every document here is valid against GitHub's public schema: the tests validate them against
the subset the loopback GitHub serves (``controller/sandbox/github_server/graphql``), which
keeps GitHub's own definitions of every type and field it holds.

Aliases are fixed names (``t0``, ``t1`` for teams, ``l0``... for labels, ``comment``,
``add``, ``remove``) because GraphQL cannot alias by variable; values always travel as
variables, never spliced into the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PAGE = 100
"""GitHub's largest page for a connection. A connection with more is read over REST."""

_ACTOR = "author { __typename login }"
"""``__typename`` matters: GraphQL calls an App's bot ``sealgate``, where REST (and every
comparison sealgate makes) calls it ``sealgate[bot]``, and a person may own the login
``sealgate``."""

_PULL_FIELDS = f"""
      id
      number
      title
      url
      state
      merged
      createdAt
      {_ACTOR}
      headRefOid
      headRefName
      headRepository {{ nameWithOwner }}
      baseRefName
      baseRef {{ target {{ oid }} }}
      baseRepository {{ nameWithOwner defaultBranchRef {{ name }} }}
      changedFiles
      commits {{ totalCount }}
      labels(first: {PAGE}) {{ pageInfo {{ hasNextPage }} nodes {{ id name }} }}
      reviews(first: {PAGE}) {{
        pageInfo {{ hasNextPage }}
        nodes {{ databaseId state submittedAt {_ACTOR} commit {{ oid }} }}
      }}
      comments(first: {PAGE}) {{
        pageInfo {{ hasNextPage }}
        nodes {{ id databaseId body createdAt updatedAt lastEditedAt {_ACTOR} }}
      }}"""

_TEAM_FIELDS = f"""team(slug: $%(alias)sSlug) {{
      members(first: {PAGE}) {{ pageInfo {{ hasNextPage }} nodes {{ login }} }}
    }}"""


@dataclass(frozen=True, slots=True)
class PullQuery:
    document: str
    variables: Mapping[str, Any]
    teams: Mapping[str, str]
    """Alias (``t0``...) -> the ``org/slug`` it reads."""
    labels: Mapping[str, str]
    """Alias (``l0``...) -> the label name whose id it reads."""


def pull_query(
    owner: str, name: str, number: int, *, teams: Sequence[str] = (), labels: Sequence[str] = ()
) -> PullQuery:
    """One read of everything a decision on ``owner/name#number`` needs from GitHub, plus
    the node ids of ``labels`` in the repository (a report adds labels by id).

    ``teams`` are ``org/slug`` names; a malformed one is left out (it has no members).
    Answer: ``data.repository.pullRequest`` (null when there is none), ``data.repository.l0``
    ... (null for a label the repository lacks), ``data.t0.team`` ... (null for an
    organization or team GitHub does not show).
    """
    params = ["$owner: String!", "$name: String!", "$number: Int!"]
    variables: dict[str, Any] = {"owner": owner, "name": name, "number": number}
    team_aliases: dict[str, str] = {}
    team_parts: list[str] = []
    for team in sorted(set(teams)):
        org, sep, slug = team.partition("/")
        if not sep or not org or not slug:
            continue
        alias = f"t{len(team_aliases)}"
        team_aliases[alias] = team
        params += [f"${alias}Org: String!", f"${alias}Slug: String!"]
        variables[f"{alias}Org"] = org
        variables[f"{alias}Slug"] = slug
        team_parts.append(
            f"  {alias}: organization(login: ${alias}Org) {{\n    "
            + _TEAM_FIELDS % {"alias": alias}
            + "\n  }"
        )
    label_aliases: dict[str, str] = {}
    label_parts: list[str] = []
    for label in sorted(set(labels)):
        alias = f"l{len(label_aliases)}"
        label_aliases[alias] = label
        params.append(f"${alias}: String!")
        variables[alias] = label
        label_parts.append(f"    {alias}: label(name: ${alias}) {{ id }}")
    document = (
        f"query SealgatePull({', '.join(params)}) {{\n"
        "  repository(owner: $owner, name: $name) {\n"
        f"    pullRequest(number: $number) {{{_PULL_FIELDS}\n    }}\n"
        + "".join(part + "\n" for part in label_parts)
        + "  }\n"
        + "".join(part + "\n" for part in team_parts)
        + "}\n"
    )
    return PullQuery(document, variables, team_aliases, label_aliases)


@dataclass(frozen=True, slots=True)
class ReportMutation:
    document: str
    variables: Mapping[str, Any]
    aliases: tuple[str, ...]
    """Which of ``comment``, ``add``, ``remove`` the document holds, in order."""


def report_mutation(
    *,
    comment: tuple[str, str] | None = None,
    labelable: str = "",
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> ReportMutation | None:
    """The writes of one report as one document; None when there is nothing to write.

    ``comment``: (the sticky comment's node id, its new body). ``labelable``: the pull
    request's node id; ``add``/``remove``: label node ids. Answer: ``data.comment.
    issueComment.id``, ``data.add.labelable`` / ``data.remove.labelable`` (``__typename``),
    each null (with an entry in ``errors`` whose ``path`` names the alias) when it failed.
    """
    params: list[str] = []
    variables: dict[str, Any] = {}
    parts: list[str] = []
    aliases: list[str] = []
    if comment is not None:
        params += ["$commentId: ID!", "$body: String!"]
        variables.update(commentId=comment[0], body=comment[1])
        parts.append(
            "  comment: updateIssueComment(input: {id: $commentId, body: $body}) "
            "{ issueComment { id } }"
        )
        aliases.append("comment")
    for alias, ids in (("add", add), ("remove", remove)):
        if not ids:
            continue
        if not labelable:
            raise ValueError("label edits need the pull request's node id")
        verb = "addLabelsToLabelable" if alias == "add" else "removeLabelsFromLabelable"
        params.append(f"${alias}Ids: [ID!]!")
        variables[f"{alias}Ids"] = list(ids)
        parts.append(
            f"  {alias}: {verb}(input: {{labelableId: $labelable, labelIds: ${alias}Ids}}) "
            "{ labelable { __typename } }"
        )
        aliases.append(alias)
    if not parts:
        return None
    if "add" in aliases or "remove" in aliases:
        params.append("$labelable: ID!")
        variables["labelable"] = labelable
    document = f"mutation SealgateReport({', '.join(params)}) {{\n" + "\n".join(parts) + "\n}\n"
    return ReportMutation(document, variables, tuple(aliases))

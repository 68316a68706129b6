"""Typed, immutable values shared by every part of sealgate.

Documents (environments, policies, changes) are parsed into these by ``controller.documents``;
the facts of a pull request are gathered into a ``PullRequestFacts`` snapshot by an adapter
(or read from JSON by ``sealgate plan``); ``controller.policy`` turns both into a ``Decision``.
Nothing here does I/O, and nothing here ever holds a plaintext secret value: ``SecretChange``
carries sealed strings only.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

API_VERSION = "sealgate.dev/v1"
MAX_SECRET_BYTES = 1024 * 1024
"""Kubernetes refuses a Secret whose keys and values add up to more (``MaxSecretSize``): a
change that would grow one past it could be merged and stored but never written."""
GOVERNANCE = "governance"
"""Reserved environment name: policies listing it judge changes to the rules themselves."""


class Tier(enum.StrEnum):
    """How dangerous a secret is. Ordered: ``standard < sensitive < critical``."""

    STANDARD = "standard"
    SENSITIVE = "sensitive"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]

    @staticmethod
    def highest(*tiers: Tier) -> Tier:
        return max(tiers, key=lambda t: t.rank)


_TIER_RANK = {Tier.STANDARD: 0, Tier.SENSITIVE: 1, Tier.CRITICAL: 2}


class Unmatched(enum.StrEnum):
    """What happens to a change no policy covers."""

    DENY = "deny"
    ALLOW = "allow"


class RolloutFailure(enum.StrEnum):
    """What happens to the new value when a workload using it fails to roll out.

    ``keep`` leaves the new value in store and cluster (a rotation of a leaked credential
    must not be undone by a workload that cannot start); ``rollback`` returns the Secret to
    the content the change replaced, which puts the replaced value back in use.
    """

    KEEP = "keep"
    ROLLBACK = "rollback"


class Action(enum.StrEnum):
    """What a policy governs: changing secrets, or reading them (access requests)."""

    CHANGE = "change"
    ACCESS = "access"


class Enforcement(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"


class Alphabet(enum.StrEnum):
    ALPHANUMERIC = "alphanumeric"
    URLSAFE = "urlsafe"
    HEX = "hex"
    ASCII_PRINTABLE = "ascii-printable"


def frozen_map(items: Mapping[K, V] | None = None) -> Mapping[K, V]:
    """A read-only view of a copy: immutable snapshots stay immutable."""
    return MappingProxyType(dict(items or {}))


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class SealingKey:
    id: str
    public_key: str
    """Standard base64 of a raw 32-byte X25519 public key."""


@dataclass(frozen=True, slots=True)
class TierFloor:
    """Secrets matching ``secrets`` (globs) are never below ``tier``."""

    secrets: tuple[str, ...]
    tier: Tier


@dataclass(frozen=True, slots=True)
class ValueRule:
    """What a value of one tier must at least be: length in characters, estimated bits."""

    min_length: int = 1
    min_entropy_bits: float = 0.0


DEFAULT_VALUE_POLICY: Mapping[Tier, ValueRule] = MappingProxyType(
    {
        Tier.STANDARD: ValueRule(),
        Tier.SENSITIVE: ValueRule(),
        Tier.CRITICAL: ValueRule(min_length=16, min_entropy_bits=64.0),
    }
)
"""Lenient below critical so existing secrets keep flowing; environments raise them."""


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """One ``spec.agents`` entry of an environment file: a ServiceAccount of one cluster
    that may ask for access to this environment's secrets."""

    namespace: str
    name: str
    cluster: str
    secrets: tuple[str, ...] | None = None
    """``<namespace>/<name>`` globs it may ask for; None: every secret of the environment."""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    sealing_keys: tuple[SealingKey, ...]
    """Newest first: new values are sealed to ``sealing_keys[0]``."""
    default_tier: Tier = Tier.SENSITIVE
    unmatched: Unmatched = Unmatched.DENY
    clusters: tuple[str, ...] = ()
    source: str = ""
    """The file this came from, for messages."""
    namespaces: tuple[str, ...] | None = None
    """Namespaces (exact names or ``*`` globs) its secrets may live in; None when the file
    declares none, which lets the environment write no namespace at all."""
    on_rollout_failure: RolloutFailure = RolloutFailure.KEEP
    """The default of changes that do not say (``spec.onRolloutFailure``)."""
    tier_floors: tuple[TierFloor, ...] = ()
    """Read from the rules, never the store: a lost or restored store cannot lower a tier."""
    value_policy: Mapping[Tier, ValueRule] = field(default_factory=lambda: DEFAULT_VALUE_POLICY)
    agents: tuple[AgentEntry, ...] = ()
    """The ServiceAccounts that may ask for access here (``spec.agents``); empty: none."""


@dataclass(frozen=True, slots=True)
class ApprovalStep:
    name: str
    required: int
    users: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    """Team slugs as ``org/slug``."""


@dataclass(frozen=True, slots=True)
class Bypassers:
    users: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NotifyTargets:
    slack: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    steps: tuple[ApprovalStep, ...]
    """``spec.approvals`` becomes one step named ``approvals``; ``spec.steps`` keeps its order."""
    description: str = ""
    environments: tuple[str, ...] = ("*",)
    secrets: tuple[str, ...] = ("**",)
    tiers: frozenset[Tier] = frozenset(Tier)
    allow_self_approval: bool = False
    invalidate_on_push: bool = True
    changes_requested_blocks: bool = True
    enforcement: Enforcement = Enforcement.HARD
    bypassers: Bypassers = Bypassers()
    expires_after: timedelta = timedelta(days=7)
    auto_merge: bool = True
    notify: NotifyTargets = NotifyTargets()
    require_verified_commits: bool = False
    """Every commit of the pull request must carry a signature GitHub verified."""
    source: str = ""
    actions: frozenset[Action] = frozenset({Action.CHANGE})
    """``spec.actions``: a policy written before access requests keeps judging changes only."""
    max_duration: timedelta | None = None
    """``spec.maxDuration``: the longest access a request it covers may ask for."""

    @property
    def is_governance(self) -> bool:
        return GOVERNANCE in self.environments


OPAQUE = "Opaque"


@dataclass(frozen=True, slots=True)
class SecretShape:
    """What a Secret is besides its data: its ``type`` and the labels and annotations sealgate
    gives it. Public: stored in clear beside the sealed values and shown to reviewers."""

    type: str = OPAQUE
    labels: Mapping[str, str] = field(default_factory=frozen_map)
    annotations: Mapping[str, str] = field(default_factory=frozen_map)

    @property
    def is_default(self) -> bool:
        return self.type == OPAQUE and not self.labels and not self.annotations


DEFAULT_SHAPE = SecretShape()


@dataclass(frozen=True, slots=True)
class MetadataEdit:
    """``spec.labels`` or ``spec.annotations`` of a change: set these, remove those."""

    set: Mapping[str, str] = field(default_factory=frozen_map)
    remove: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.set or self.remove)

    def applied_to(self, current: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in current.items() if k not in self.remove}
        out.update(self.set)
        return out


@dataclass(frozen=True, slots=True)
class GenerateSpec:
    length: int = 32
    alphabet: Alphabet = Alphabet.ALPHANUMERIC


@dataclass(frozen=True, slots=True)
class SecretChange:
    """One ``SecretChange`` document. Values are sealed strings (``sg1:<kid>:<payload>``)."""

    name: str
    environment: str
    secret: str
    """``<namespace>/<name>``: the Kubernetes Secret it becomes in every cluster."""
    reason: str
    set: Mapping[str, str] = field(default_factory=frozen_map)
    generate: Mapping[str, GenerateSpec] = field(default_factory=frozen_map)
    delete: tuple[str, ...] = ()
    tier: Tier | None = None
    base_version: int | None = None
    """The store version of the secret this change was proposed against, when known; 0: the
    secret must not exist yet."""
    restore_version: int | None = None
    """``spec.restore.version``: the whole secret as it was at this store version (every key
    of that version, and no other)."""
    restore_keys: Mapping[str, int] = field(default_factory=frozen_map)
    """``spec.restore.keys``: key -> the store version whose value it gets back."""
    source: str = ""
    """``changes/<env>/<file>.yaml``."""
    document_index: int = 0
    """Position of this document in a multi-document file, for messages and change ids."""
    on_rollout_failure: RolloutFailure | None = None
    """``spec.onRolloutFailure``; None: the environment's default decides."""
    type: str | None = None
    """``spec.type``: the Kubernetes Secret type; None keeps the stored one (Opaque if new)."""
    labels: MetadataEdit = MetadataEdit()
    annotations: MetadataEdit = MetadataEdit()

    def shape_after(self, current: SecretShape | None) -> SecretShape:
        """The Secret's shape once this change is applied on top of ``current``."""
        base = current or SecretShape()
        return SecretShape(
            type=self.type or base.type,
            labels=frozen_map(self.labels.applied_to(base.labels)),
            annotations=frozen_map(self.annotations.applied_to(base.annotations)),
        )

    @property
    def path(self) -> str:
        """``<environment>/<namespace>/<name>``: the key of current tiers and the store file."""
        return f"{self.environment}/{self.secret}"

    @property
    def keys(self) -> frozenset[str]:
        """The keys the change names (a whole-secret restore names none: it touches all)."""
        return (
            frozenset(self.set)
            | frozenset(self.generate)
            | frozenset(self.delete)
            | frozenset(self.restore_keys)
        )

    @property
    def restores_whole(self) -> bool:
        return self.restore_version is not None


# --------------------------------------------------------------------------- access


class AccessDelivery(enum.StrEnum):
    """How granted access reaches the requester."""

    OPEN = "open"
    """``sealgate open``/``exec``: values sealed by the controller to a fresh key of the caller."""
    KUBERNETES = "kubernetes"
    """A Role with ``resourceNames`` and a RoleBinding to ``kubernetesSubject``, per cluster."""


@dataclass(frozen=True, slots=True)
class SecretAccess:
    """One secret an access request names, and optionally which of its keys."""

    secret: str
    """``<namespace>/<name>``."""
    keys: tuple[str, ...] = ()
    """Empty: every key of the secret."""


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """A ServiceAccount its cluster vouched for (a TokenReview accepted its token)."""

    namespace: str
    name: str
    uid: str
    cluster: str

    @property
    def requester(self) -> str:
        """How access requests and audit records name it."""
        return f"system:serviceaccount:{self.namespace}:{self.name}@{self.cluster}"


@dataclass(frozen=True, slots=True)
class KubernetesSubject:
    """Who a ``kubernetes`` grant binds: an RBAC subject."""

    kind: str
    """``User``, ``Group`` or ``ServiceAccount``."""
    name: str
    namespace: str = ""
    """Only for ``ServiceAccount``."""


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One ``AccessRequest`` document (``access/<env>/<id>.yaml``)."""

    name: str
    """``metadata.name``."""
    environment: str
    secrets: tuple[SecretAccess, ...]
    requester: str
    """A GitHub login (the pull request's author), or an agent's identity."""
    reason: str
    duration: timedelta
    """How long access lasts, counted from the first use."""
    activate_within: timedelta
    """How long an approved grant waits for its first use before it lapses."""
    deliver: frozenset[AccessDelivery] = frozenset({AccessDelivery.OPEN})
    kubernetes_subject: KubernetesSubject | None = None
    source: str = ""
    """``access/<env>/<id>.yaml``."""
    document_index: int = 0

    @property
    def request_id(self) -> str:
        """The file's stem: ``access/production/incident-4711.yaml`` -> ``incident-4711``."""
        stem = self.source.rsplit("/", 1)[-1]
        for suffix in (".yaml", ".yml"):
            stem = stem.removesuffix(suffix)
        return stem or self.name

    @property
    def paths(self) -> tuple[str, ...]:
        """``<environment>/<namespace>/<name>`` of every secret asked for, sorted."""
        return tuple(sorted({f"{self.environment}/{item.secret}" for item in self.secrets}))


_LABEL_VALUE_MAX = 63


def grant_id_for(environment: str, number: int, request_id: str) -> str:
    """A grant's id: readable, unique per (environment, pull request, request file), and a
    valid Kubernetes label value (at most 63 characters; long ones end in a digest)."""
    raw = f"{environment}-pr-{number}-{request_id}".lower()
    clean = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "-" for ch in raw)
    clean = clean.strip("-_.")
    if len(clean) <= _LABEL_VALUE_MAX:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    return f"{clean[: _LABEL_VALUE_MAX - 11].rstrip('-_.')}-{digest}"


class GrantState(enum.StrEnum):
    APPROVED = "approved"
    """Granted and waiting for its first use (until ``activate_by``)."""
    ACTIVE = "active"
    LAPSED = "lapsed"
    """Never used before ``activate_by``."""
    ENDED = "ended"
    """``duration`` after the first use passed."""
    REVOKED = "revoked"

    @property
    def live(self) -> bool:
        return self in (GrantState.APPROVED, GrantState.ACTIVE)


@dataclass(frozen=True, slots=True)
class Grant:
    """An approved access request, as the store records it. Holds no value.

    The clock rules live here, pure, so the store, the expiry loop, the open endpoint and
    the status API all agree on when a grant ends.
    """

    id: str
    """``<environment>-pr-<number>-<request id>``, truncated and hashed to fit a label."""
    environment: str
    repo: str
    pull_request: int
    request_id: str
    requester: str
    secrets: tuple[SecretAccess, ...]
    deliver: frozenset[AccessDelivery]
    approvers: tuple[str, ...]
    approved_at: datetime
    duration: timedelta
    """The granted duration: the requested one, or shorter when an approver said so."""
    activate_by: datetime
    reason: str = ""
    tier: Tier = Tier.SENSITIVE
    kubernetes_subject: KubernetesSubject | None = None
    first_used_at: datetime | None = None
    uses: int = 0
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    ended_recorded: bool = False
    """The store recorded its end (``ended``/``lapsed``/``revoked``) and cleanup is done."""

    @property
    def ends_at(self) -> datetime:
        """When access stops: ``duration`` after the first use, else the activation
        deadline; a revocation ends it earlier."""
        end = (
            self.first_used_at + self.duration
            if self.first_used_at is not None
            else self.activate_by
        )
        if self.revoked_at is not None:
            end = min(end, self.revoked_at)
        return end

    def state(self, now: datetime) -> GrantState:
        if self.revoked_at is not None and self.revoked_at <= now:
            return GrantState.REVOKED
        if self.first_used_at is None:
            return GrantState.APPROVED if now < self.activate_by else GrantState.LAPSED
        return GrantState.ACTIVE if now < self.ends_at else GrantState.ENDED

    def covers(self, secret: str, key: str | None = None) -> bool:
        """Whether the grant names ``<namespace>/<name>`` (and ``key``, when given)."""
        for item in self.secrets:
            if item.secret == secret and (key is None or not item.keys or key in item.keys):
                return True
        return False

    def keys_of(self, secret: str) -> tuple[str, ...] | None:
        """The keys granted of ``secret``: () for all of them, None when not granted."""
        for item in self.secrets:
            if item.secret == secret:
                return item.keys
        return None


# --------------------------------------------------------------------- pull-request facts


class ReviewState(enum.StrEnum):
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    COMMENTED = "COMMENTED"
    DISMISSED = "DISMISSED"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    author: str | None
    """GitHub login of the commit's author, None when GitHub could not link it to a user."""
    committer: str | None
    """Like ``author``: None when the committer's email is linked to no GitHub account."""
    co_authors: tuple[str, ...] = ()
    """Logins named by ``Co-authored-by:`` trailers with a GitHub no-reply address."""
    unlinked_co_authors: tuple[str, ...] = ()
    """``Co-authored-by:`` names whose email sealgate cannot map to a login: they block
    approval like an unlinked author, because anyone could be behind them."""
    verified: bool = False
    """GitHub verified the commit's signature (``commit.verification.verified``)."""


@dataclass(frozen=True, slots=True)
class Push:
    """A ref update of the head branch as GitHub reports it: who really pushed, and when.

    Commit metadata is forgeable; pushes come from webhook senders (kept durably by the
    controller) and the repository activity API.
    """

    sha: str
    """The commit the branch pointed at after the push."""
    pusher: str
    pushed_at: datetime


@dataclass(frozen=True, slots=True)
class Review:
    user: str
    state: ReviewState
    commit_id: str
    submitted_at: datetime
    id: int = 0
    dismissed_by: str | None = None
    """Who dismissed this review (GitHub's issue timeline), for a DISMISSED review; None when
    unknown. The reviews API does not say, and anyone with write access can dismiss."""
    dismissed_state: ReviewState | None = None
    """What a DISMISSED review was before its dismissal; None when unknown."""


@dataclass(frozen=True, slots=True)
class Comment:
    user: str
    body: str
    created_at: datetime
    id: int = 0
    updated_at: datetime | None = None
    """None or ``created_at`` for a comment never edited; anyone with write access can edit
    someone else's comment, so an edited comment carries no command."""
    node_id: str = ""
    """GitHub's global id (GraphQL edits address a comment by it); empty when not known."""

    @property
    def edited(self) -> bool:
        return self.updated_at is not None and self.updated_at != self.created_at


@dataclass(frozen=True, slots=True)
class PullRequestFacts:
    """Everything a decision needs, fetched up front so the policy engine does no I/O."""

    number: int
    author: str
    head_sha: str
    created_at: datetime
    now: datetime
    commits: tuple[Commit, ...] = ()
    reviews: tuple[Review, ...] = ()
    teams: Mapping[str, frozenset[str]] = field(default_factory=frozen_map)
    """``org/slug`` → member logins, for every team the applicable policies name."""
    comments: tuple[Comment, ...] = ()
    current_tiers: Mapping[str, Tier] = field(default_factory=frozen_map)
    """``<env>/<namespace>/<name>`` → the tier the store holds now."""
    changed_files: tuple[str, ...] = ()
    base_sha: str = ""
    pushes: tuple[Push, ...] = ()
    """Every known push to the head branch. Their pushers are contributors, and the latest
    push of ``head_sha`` is when the head appeared: commands made before it do not count."""
    bot_login: str = ""
    """The controller's own login: the author of the pull requests it opens for agents."""
    agent_requests: Mapping[str, str] = field(default_factory=frozen_map)
    """``access/<env>/<id>.yaml`` -> the agent requester the store's durable record names
    for exactly this file and these bytes (the reconciler compares the digest): the only
    way a request's requester may differ from the pull request's author."""


# ------------------------------------------------------------------------------ decision


class DecisionState(enum.StrEnum):
    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step of one applicable policy stands."""

    policy: str
    step: str
    required: int
    approved_by: tuple[str, ...]
    eligible_remaining: tuple[str, ...]
    """Eligible people who have not (validly) approved yet: who can still approve."""
    changes_requested_by: tuple[str, ...] = ()
    satisfied: bool = False
    waiting_on_earlier_step: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    state: DecisionState
    reasons: tuple[str, ...]
    steps: tuple[StepResult, ...] = ()
    bypassed: bool = False
    bypassed_by: str | None = None
    bypass_reason: str | None = None
    merge_requested_by: str | None = None
    """Who gave a ``/sealgate merge`` that counts for this head, if anyone did."""
    expires_at: datetime | None = None
    head_sha: str = ""
    """The head the decision was made on: a merge is guarded by it."""
    governance: bool = False
    auto_merge: bool = True
    """False when any applicable policy wants an explicit ``/sealgate merge``."""
    tiers: Mapping[str, Tier] = field(default_factory=frozen_map)
    """Effective tier per change (``<env>/<namespace>/<name>``)."""
    access: bool = False
    """The pull request asks for access (``AccessRequest`` files), not a change."""
    granted_duration: timedelta | None = None
    """For access: the duration granted: the shortest of the requested one and every
    ``/sealgate approve-for`` of an approver whose approval counts."""

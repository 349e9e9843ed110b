"""Name rules of the target: every field a user's text lands in that Argo or
Kubernetes reads as a name, with the rule of the program that reads it.

Why one module: a name that breaks its field's grammar is refused by Argo or the
apiserver only at run time, and one that holds `{{` is expanded by Argo's
template engine (shared by every team of a cluster) before anything refuses it.
So each rule is stated once here, quoted from its source with the version, and
used by the checks (`compiler.validate`, the kinds), the CRD's `pattern`s
(`compiler.crd`) and the tests. No grammar here admits `{` or `}`.

Every pattern is matched whole (`fullmatch`): `$` in Python also matches before a
final newline, which let `"a\\n"` pass as a step name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Step names (Argo's template field limit): here, not in orchapi.models, so that the
# terminal commands check names without loading pydantic (0.5 s of their budget).
MAX_NAME_LENGTH = 128


@dataclass(frozen=True)
class Grammar:
    """One name field's rule: a pattern (valid in Python and Go's RE2, so the
    CRD's `pattern` is the same text), a length limit, and extra refusals."""

    what: str
    pattern: str
    max_length: int | None
    source: str
    rule: str  # the rule in words, for a person
    extra: Callable[[str], str | None] | None = None

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        # Compiled when first matched: a command uses a few of these grammars, and
        # compiling all of them was a few ms of every cold start.
        return re.compile(self.pattern)

    @property
    def anchored(self) -> str:
        """The pattern for an OpenAPI `pattern` (Go's `$` is the end of the text)."""
        return f"^(?:{self.pattern})$"

    def problem(self, value: str) -> str | None:
        """Why `value` breaks this grammar (a sentence naming the grammar), or None."""
        if self.max_length is not None and len(value) > self.max_length:
            return (f"is {len(value)} characters long; a {self.what} has at most "
                    f"{self.max_length} ({self.source})")
        if not self.regex.fullmatch(value):
            shown = f" ({self.pattern})" if len(self.pattern) <= 60 else ""
            return f"is not a valid {self.what}: {self.rule}{shown}, says {self.source}"
        return self.extra(value) if self.extra else None


def quote(value: str, limit: int = 80) -> str:
    """`value` in double quotes with every invisible or line-breaking character
    escaped (as Go's %q shows it), cut at `limit` characters."""
    out = []
    for c in value[:limit]:
        if c in '"\\':
            out.append("\\" + c)
        elif c.isprintable() and c not in "\u2028\u2029":
            out.append(c)
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}" if c not in "\n\t\r" else repr(c)[1:-1])
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + ('..."' if len(value) > limit else '"')


# k8s.io/apimachinery v0.36.3 pkg/util/validation/validation.go, IsEnvVarName:
# envVarNameFmt `[-._a-zA-Z][-._a-zA-Z0-9]*` and hasChDirPrefix (not `.` or `..`,
# not starting with `..`), written as one pattern. Kubernetes 1.34+ also accepts
# any printable ASCII but `=` (RelaxedEnvironmentVariableValidation), which
# admits `{{`: the strict rule is the one every supported Kubernetes accepts.
ENV_VAR_NAME = Grammar(
    "environment variable name", r"[-_a-zA-Z][-._a-zA-Z0-9]*|\.[-_a-zA-Z0-9][-._a-zA-Z0-9]*",
    None, "Kubernetes IsEnvVarName",
    "letters, digits, '_', '-' and '.', not starting with a digit or '..', not '.'")
# argo-workflows v4.0.5 workflow/validate/validate.go paramOrArtifactNameRegex.
PARAMETER = Grammar(
    "Argo parameter name", r"[-a-zA-Z0-9_]+", None, "Argo",
    "letters, digits, '_' and '-'")
# argo-workflows v4.0.5 workflow/validate/validate.go workflowFieldNameFmt,
# workflowFieldMaxLength: template names (entrypoint, templateRef.template).
TEMPLATE = Grammar(
    "Argo template name", r"[a-zA-Z0-9][-a-zA-Z0-9]*", 128, "Argo",
    "letters, digits and '-', starting with a letter or digit")
# Kubernetes object names (IsDNS1123Subdomain).
DNS_SUBDOMAIN_NAME = Grammar(
    "Kubernetes object name", r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
    253, "Kubernetes", "lowercase letters, digits, '-' and '.', alphanumeric at both ends")
# The objects a container's env and envFrom name (k8s.io/kubernetes v1.36.3
# pkg/apis/core/validation/validation.go: ValidateSecretName, ValidateConfigMapName,
# both apimachineryvalidation.NameIsDNSSubdomain).
SECRET_NAME = Grammar("Secret name", DNS_SUBDOMAIN_NAME.pattern, 253, "Kubernetes",
                      DNS_SUBDOMAIN_NAME.rule)
CONFIG_MAP_NAME = Grammar("ConfigMap name", DNS_SUBDOMAIN_NAME.pattern, 253, "Kubernetes",
                          DNS_SUBDOMAIN_NAME.rule)


def _not_a_parent(value: str) -> str | None:
    # apimachinery v0.36.3 validation.go hasChDirPrefix.
    if value in (".", "..") or value.startswith(".."):
        return "must not be '.' or '..' or start with '..', says Kubernetes IsConfigMapKey"
    return None


# The key of a Secret or ConfigMap an env var reads (apimachinery v0.36.3
# pkg/util/validation/validation.go IsConfigMapKey: configMapKeyFmt, at most 253
# characters, hasChDirPrefix).
CONFIG_KEY = Grammar(
    "Secret or ConfigMap key", r"[-._a-zA-Z0-9]+", 253, "Kubernetes IsConfigMapKey",
    "letters, digits, '-', '_' and '.'", _not_a_parent)
# A pod's volume names (validation.go ValidateVolumes: ValidateDNS1123Label), which
# its containers' volumeMounts name.
VOLUME_NAME = Grammar(
    "volume name", r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", 63, "Kubernetes",
    "lowercase letters, digits and '-', alphanumeric at both ends")
# A WorkflowTemplate's name: an object name that Argo also limits to 63
# (argo-workflows v4.0.5 workflow/validate/validate.go maxCharsInObjectName).
WORKFLOW_TEMPLATE_NAME = Grammar(
    "WorkflowTemplate name", DNS_SUBDOMAIN_NAME.pattern, 63, "Kubernetes and Argo",
    DNS_SUBDOMAIN_NAME.rule)
# Namespaces (IsDNS1123Label).
NAMESPACE = Grammar(
    "namespace", r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", 63, "Kubernetes",
    "lowercase letters, digits and '-', alphanumeric at both ends")

# github.com/distribution/reference v0.6.0 regexp.go ReferenceRegexp (what the
# container runtimes parse an image with); Go's `\w` is ASCII, written out here.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"


def _image_extra(value: str) -> str | None:
    # reference.go Parse: the repository name is at most 255 characters;
    # normalize.go: a bare 64-hex string is an image ID, not a name.
    name = re.split(r"[:@](?=[^/]*$)", value, maxsplit=1)[0]
    if len(name) > 255:
        return "is not a valid image reference: its repository name is over 255 characters, " \
               "says distribution/reference"
    if re.fullmatch(r"[a-f0-9]{64}", value):
        return "is not a valid image reference: a 64-hex string is an image ID, not a name, " \
               "says distribution/reference"
    return None


IMAGE = Grammar(
    "image reference", rf"{_NAME}(?::{_TAG})?(?:@{_DIGEST})?", 4096,
    "distribution/reference",
    "[host[:port]/]path[:tag][@digest], path components of lowercase letters and digits "
    "joined by '.', '_', '__' or '-'", _image_extra)

# Argo's DAG task names, which also end up inside `dependencies` expressions.
TASK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")
# Words that Argo's `dependencies` evaluation (expr-lang) reads as operators/literals.
EXPRESSION_KEYWORDS = frozenset(
    [
        "in",
        "not",
        "and",
        "or",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "let",
        "if",
        "else",
        "true",
        "false",
        "nil",
    ]
)
MAX_TEMPLATE_NAME = 128
# Workflow names: Argo refuses more than 63 characters.
MAX_WORKFLOW_NAME = 63
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def task_name_problem(name: str) -> str | None:
    """Why Argo cannot use `name` as a DAG task name, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    if name in EXPRESSION_KEYWORDS:
        return "is a keyword of Argo's dependency expressions; rename the step"
    if not TASK_NAME.fullmatch(name):
        foreign = non_ascii(name)
        if foreign:  # "letters" alone would not explain a Cyrillic letter, which is one
            return (f"holds {foreign}; a task name holds only ASCII letters, digits and "
                    "'-', starting with a letter")
        return "must start with a letter and hold only letters, digits and '-'"
    return None


# Non-ASCII letters that look like ASCII ones (the most frequent Cyrillic and Greek
# homoglyphs of Unicode's confusables.txt, UTS #39): a name pasted from a chat or a
# document can hold one and look exactly like the name a person types.
LOOKALIKES = dict(zip(
    "аеорсухіјѕԁһӏԛԝАВЕКМНОРСТХІЈЅοαυνκτΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdhlqwABEKMHOPCTXIJSoauvktABEZHIKMNOPTYX", strict=True))


def non_ascii(name: str) -> str | None:
    """The first non-ASCII character of `name`, said so that a person sees it
    (`"\u0456" (U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I), a non-ASCII
    lookalike of "i", at position 3`), or None when `name` is ASCII."""
    import unicodedata

    for i, c in enumerate(name):
        if not c.isascii():
            what = unicodedata.name(c, "an unnamed character")
            like = LOOKALIKES.get(c) or unicodedata.normalize("NFKD", c)[:1]
            kind = (f'a non-ASCII lookalike of "{like}"' if like.isascii() and like.isalpha()
                    else "a non-ASCII character")
            return f"{quote(c)} (U+{ord(c):04X} {what}), {kind}, at position {i + 1}"
    return None


def did_you_mean(word: str, guess: str) -> str:
    """The hint for a name that does not exist when `guess` is the closest one; when
    the two differ only where `guess` has a non-ASCII lookalike, it says so (they
    look the same on screen)."""
    hint = f"did you mean {quote(guess)}?"
    if len(word) == len(guess) and all(a == b or not b.isascii()
                                       for a, b in zip(word, guess, strict=True)):
        foreign = non_ascii(guess)
        if foreign and not non_ascii(word):
            hint += f" It is not {quote(word)}: it holds {foreign}"
    return hint


def label_value(name: str) -> str:
    """`name` if it is a valid label value, else its first 54 characters, '-', and
    8 hex digits of its sha256 (contract §4)."""
    if len(name) <= 63 and LABEL_VALUE.fullmatch(name):
        return name
    digest = short_hash(name)
    head = name[:54]
    head = head[: next((i for i, c in enumerate(head) if not _label_char(c)), len(head))]
    head = head.rstrip("-_.")
    return f"{head}-{digest}" if head and head[0].isascii() and head[0].isalnum() else digest


def _label_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "-_.")


def shorten(name: str, limit: int) -> str:
    """`name` itself when it fits in `limit`, else a prefix plus a stable hash."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9].rstrip('-.')}-{short_hash(name)}"


def short_hash(text: str) -> str:
    """8 hex digits of the sha256 of `text`: the stable suffix of a shortened name."""
    # Imported here: hashlib loads OpenSSL, a few ms of every cold start, and a
    # name needs hashing only when it is too long or not a label value.
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, for 'did you mean ...?' hints."""
    import difflib  # here: only a mistake asks for a hint (a cold start need not load it)

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None

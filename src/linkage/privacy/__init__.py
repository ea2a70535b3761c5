"""The privacy self-check: how many encodings could an attacker re-identify?

Three attackers who hold the encodings but not the secret, each given a
plaintext reference population, and a fourth who guesses the secret from the
key-check value in an encodings file's header (see :mod:`linkage.privacy.check`
for what each models). Use :func:`privacy_check` for all four and a verdict,
or an attack function on its own.

Example:
    >>> report = privacy_check(clks, population, schema, truth=truth)  # doctest: +SKIP
    >>> [(r.attack, r.share, r.verdict) for r in report.results]  # doctest: +SKIP
"""

from linkage.privacy.assign import Assignment, assign_one_to_one, correct_share
from linkage.privacy.check import (
    ATTACKS,
    DEFAULT_THRESHOLD,
    AttackName,
    AttackResult,
    PrivacyReport,
    Verdict,
    privacy_check,
)
from linkage.privacy.frequency import frequency_attack
from linkage.privacy.graph import graph_attack
from linkage.privacy.guessing import GuessResult, guess_secret
from linkage.privacy.known_plaintext import known_plaintext_attack
from linkage.privacy.tokens import TokenTable, token_table

__all__ = [
    "ATTACKS",
    "DEFAULT_THRESHOLD",
    "Assignment",
    "AttackName",
    "AttackResult",
    "GuessResult",
    "PrivacyReport",
    "TokenTable",
    "Verdict",
    "assign_one_to_one",
    "correct_share",
    "frequency_attack",
    "graph_attack",
    "guess_secret",
    "known_plaintext_attack",
    "privacy_check",
    "token_table",
]

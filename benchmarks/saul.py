"""SAUL, as the benchmarks measure it against diffusion (issue 18).

Armknecht and Schäfer (PoPETs 2026, "Breaking BAD? Better Call SAUL!")
propose SAUL in place of Bloom filters with diffusion. As their reference
implementation builds it, each output bit is the XOR of ``k`` majority votes;
each vote takes one secret random bit per token of the record and says
whether at least half of them are 1. A vote is a random-hyperplane hash of
the record's token set, so two records agree on it with probability
``1 - angle / pi`` (their token sets' cosine gives the angle), and the XOR of
``k`` votes sharpens that as diffusion's taps do.

This is our reading, written for measurement only (not part of the product):
tokens are the schema's own (:func:`linkage.privacy.tokens.token_table`), and
a token's vote carries its feature's share of the schema's bits (the
``bitsPerFeature`` spread over the value's tokens, or ``bitsPerToken``), so
fields weigh as they do in the CLK; the paper's votes weigh every bigram of
the whole record alike. The random bits come from HKDF under the secret, one
draw per token, so every agency derives the same.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.formats.schema import BitsPerFeature, LinkageSchema
from linkage.privacy.tokens import token_table

Packed = npt.NDArray[np.uint8]


class SaulEncoder:
    """Encodes records as ``length`` bits, each the XOR of ``votes`` votes."""

    def __init__(
        self, schema: LinkageSchema, secret: bytes, *, length: int, votes: int
    ) -> None:
        self.schema, self.secret = schema, secret
        self.length, self.votes = length, votes
        self._signs: dict[tuple[str, str], npt.NDArray[np.float32]] = {}

    def encode(self, records: pd.DataFrame) -> Packed:
        """One packed encoding per row of ``records``."""
        table = token_table(self.schema, records)
        weights = self._weights(table.vocabulary, table.matrix)
        signs = np.stack([self._token_signs(token) for token in table.vocabulary])
        bits = np.zeros((len(records), self.length), dtype=np.uint8)
        for vote in range(self.votes):
            totals = weights @ signs[:, vote, :]
            bits ^= (np.asarray(totals) >= 0).astype(np.uint8)
        return np.packbits(bits, axis=1)

    def _weights(
        self, vocabulary: list[tuple[str, str]], presence: sp.csr_matrix
    ) -> sp.csr_matrix:
        """Each token's weight in each record: its feature's bits per token."""
        weights = presence.tocsc(copy=True).astype(np.float32)
        features = np.array([feature for feature, _ in vocabulary], dtype=object)
        for feature in self.schema.encoded_features:
            columns = np.flatnonzero(features == feature.identifier)
            strategy = feature.strategy
            if not len(columns) or strategy is None:
                continue
            part = presence[:, columns]
            if isinstance(strategy, BitsPerFeature):
                per_record = np.asarray(part.sum(axis=1)).ravel()
                scale = strategy.bits / np.maximum(per_record, 1)
                weights[:, columns] = sp.diags(scale.astype(np.float32)) @ part
            else:
                weights[:, columns] = part * float(strategy.k)
        return weights.tocsr()

    def _token_signs(self, token: tuple[str, str]) -> npt.NDArray[np.float32]:
        """The token's secret random bits as +1/-1, ``(votes, length)``."""
        if token not in self._signs:
            info = b"saul/" + "\x1f".join(token).encode("utf-8")
            size = self.votes * self.length // 8
            raw = HKDF(hashes.SHA256(), size, salt=None, info=info).derive(self.secret)
            bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
            signs = bits.reshape(self.votes, self.length).astype(np.float32) * 2 - 1
            self._signs[token] = signs
        return self._signs[token]

"""The attacker's own list, encoded as the victims' agency sent its records.

An agency that does not hold some fields sends a view in place of its CLK of
every field and some views empty (:mod:`linkage.encoding.stand_in`). An
attacker who encodes her list under the schema must do the same, or the
pattern she looks for is not the one the file shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from linkage.encoding.encoder import ClkEncoder, EncodedChunk
from linkage.encoding.stand_in import sent_views
from linkage.formats.schema import LinkageSchema

__all__ = ["encode_as_sent"]


def encode_as_sent(
    schema: LinkageSchema,
    secret: bytes,
    values: pd.DataFrame,
    absent: Sequence[str] = (),
) -> EncodedChunk:
    """Encode ``values`` as an agency that does not hold ``absent`` sends
    them: those fields empty, the views as :func:`sent_views` says.

    An attacker who encodes her own list must mirror what was sent: a view
    sent empty joins no class and has no similarities, so an attacker who
    encodes it anyway finds her pattern differs from the victims' and
    understates what the file gives away.
    """
    frame = values.fillna("").astype(str)
    for name in absent:
        if name in frame.columns:
            frame[name] = ""
    encoded = ClkEncoder(schema, secret).encode(frame)
    sent_views(schema, absent).apply(encoded.clks, schema.segments)
    return encoded

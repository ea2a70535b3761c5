"""Linkage that keeps running, as the service runs it (issue 23).

After a full CLK run of a project that keeps its encodings, the worker keeps
the run's standing linkage (:mod:`.folders`). Agencies then send change sets
(:mod:`.staging`: new and corrected records, withdrawals), staged until the
operator starts an update run (:mod:`.update_run`), which links them into the
groups with stable match IDs (:mod:`linkage.matching.standing`). Each agency
reads what changed in its own rows since its last download
(:mod:`.since`). Withdrawn records are never named by a reveal again
(:mod:`linkage.service.reveals`).
"""
